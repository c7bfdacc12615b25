#!/usr/bin/env bash
# The ingest benchmark: see docs/ingest.md ("Performance"). Starts its own PostgreSQL from the binaries on
# the machine (or uses TEST_DATABASE_URL). Arguments are passed on, e.g. `--preload 0` to skip the
# 5-million-event run.
set -euo pipefail
cd "$(dirname "$0")/.."
# EMF metric lines from the handler go to stdout as they would in Lambda; keep the report readable.
cargo bench --quiet --profile bench-release -p contrail-ingest --bench ingest -- "$@" \
  | grep -v '"_aws"'
