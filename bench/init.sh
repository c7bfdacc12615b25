#!/usr/bin/env bash
# Cold starts, one command: builds the Lambda functions and a hello-world lambda_runtime binary with the
# shipping release profile (INIT_PROFILE=bench-release for a quicker build), then times, for each, `exec` to
# its first poll of the Runtime API and to its answer to the first event, in turns, against hello world.
# Arguments are passed on: `--runs N` (50), `--warmup N` (3). Needs PostgreSQL binaries or TEST_DATABASE_URL.
# INIT_BENCH_BINARIES points the measurement at binaries built elsewhere (default target/<profile>).
# See docs/operations.md ("Cold starts").
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${INIT_PROFILE:-release}
# One crate at a time, as sam build builds them: each with its own features, not the union of all four.
for crate in contrail-bench-hello contrail-authorizer contrail-query contrail-ingest; do
  cargo build --quiet --locked --profile "$profile" -p "$crate"
done
# The stopwatch itself needs no optimising: the dev profile reuses what the test suite built.
INIT_BENCH_BINARIES=${INIT_BENCH_BINARIES:-"$PWD/target/$profile"} \
  exec cargo bench --quiet --locked --profile dev -p contrail-testkit --bench init -- "$@"
