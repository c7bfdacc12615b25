#!/usr/bin/env bash
# The ingest benchmark: see docs/storage.md ("Write path figures"). Starts its own PostgreSQL from the
# binaries on the machine (or uses TEST_DATABASE_URL). Arguments are passed on, e.g. `--preload 0` to skip
# the 5-million-event run, `--feed realistic` for the realistic feed alone. The Python sink it compares
# with runs in .venv-bench (psycopg), made on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/python.sh
# EMF metric lines from the handler go to stdout as they would in Lambda; keep the report readable.
cargo bench --quiet --profile bench-release -p contrail-ingest --bench ingest -- "$@" \
  | grep -v '"_aws"'
