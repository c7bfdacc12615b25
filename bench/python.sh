# Sourced by the benchmarks that measure a Python peer: a virtualenv with psycopg (.venv-bench), made on
# first use, exported as BENCH_PYTHON.
venv=".venv-bench"
if ! "$venv/bin/python" -c "import psycopg" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "psycopg[binary]>=3.2"
fi
export BENCH_PYTHON="$PWD/$venv/bin/python"
