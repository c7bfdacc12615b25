#!/usr/bin/env bash
# Query API benchmark, one command: loads 336,000 flights (about a million events) into a throwaway
# PostgreSQL (TEST_DATABASE_URL, or a cluster started from the local PostgreSQL binaries), measures the
# Rust handler in process on one core, and the Python + psycopg baseline on the same database and core.
# Needs: Rust, PostgreSQL binaries (or TEST_DATABASE_URL), python3 with venv, taskset (util-linux).
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/python.sh

# The bench profile (thin LTO) builds much faster than the shipping release profile and runs alike.
exec cargo bench --profile bench-release -p contrail-query --bench query "$@"
