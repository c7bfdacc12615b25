#!/usr/bin/env bash
# Benchmarks the local stack end to end, on loopback, in one command:
#   1. the simulator's sustained ingest rate through the real ingest handler into SQLite and into
#      PostgreSQL (a throwaway cluster from the PostgreSQL binaries on this machine);
#   2. requests/s and latency through `contrail up` (API Gateway-like front, authorizer included) for
#      GET /flights/{id} and a filtered page (date + origin, limit 50), with GET /health (no authorizer,
#      no query) measured in the same run as the baseline the others are reported against.
# Output: one JSON line per measurement, then a summary. Tunables: BENCH_SECONDS (default 10),
# BENCH_INGEST_SECONDS (default 15), BENCH_CONCURRENCY (default 8).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/lib/common.sh
source scripts/lib/contrail-up.sh
source scripts/lib/throwaway-pg.sh
seconds=${BENCH_SECONDS:-10}
ingest_seconds=${BENCH_INGEST_SECONDS:-15}
concurrency=${BENCH_CONCURRENCY:-8}
target=${CARGO_TARGET_DIR:-$root/target}
profile=bench-release

cargo build --profile "$profile" -p contrail --bin contrail --example loadgen --quiet
bin="$target/$profile/contrail"
loadgen="$target/$profile/examples/loadgen"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  stop_pg
  rm -rf "$work"
}
trap cleanup EXIT

# Runs the simulator flat out for $ingest_seconds and prints the closing "fed ..." line as JSON.
ingest_rate() {
  local name=$1 dir=$2; shift 2
  # Flat out, the simulated clock runs far ahead of the wall clock; the feed waits rather than date events
  # beyond INGEST_MAX_FUTURE_SKEW_SECONDS, so the skew is widened here to measure ingest, not the wait.
  INGEST_MAX_FUTURE_SKEW_SECONDS=31536000 start_contrail_up "$dir/up-$name.log" "$dir" "$bin" --rate 1000000 --batch-size 1000 --batch-window 200 "$@"
  local pid=$CONTRAIL_UP_PID
  sleep "$ingest_seconds"
  kill -INT "$pid"
  wait "$pid" || true
  local line; line=$(grep '^fed ' "$dir/up-$name.log" | tail -1)
  python3 - "$name" "$line" <<'PY'
import json, re, sys
name, line = sys.argv[1], sys.argv[2]
m = re.match(r"fed (\d+) records in ([\d.]+) s \((\d+) records/s\): stored (\d+) \(superseded \d+\), duplicates (\d+), dead-lettered (\d+)", line)
if not m:
    sys.exit(f"no ingest summary for {name}: {line!r}")
print(json.dumps({"measure": f"simulator ingest into {name}", "records": int(m[1]), "seconds": float(m[2]),
                  "records_per_second": int(m[3]), "stored": int(m[4]), "duplicates": int(m[5]),
                  "dead_lettered": int(m[6])}))
PY
}

echo "== ingest (simulator -> ESM batches of 1000 -> ingest handler)" >&2
mkdir -p "$work/sqlite"
sqlite_ingest=$(ingest_rate sqlite "$work/sqlite")
echo "$sqlite_ingest"

pg_bin=$(find_pg_bin)
pg_ingest=""
if [[ -n $pg_bin ]]; then
  scratch=$work
  logs=$work
  start_pg
  mkdir -p "$work/postgres"
  pg_ingest=$(ingest_rate postgres "$work/postgres" --database-url "$pg_url")
  echo "$pg_ingest"
else
  echo '{"measure": "simulator ingest into postgres", "skipped": "no PostgreSQL binaries found"}'
fi

echo "== HTTP through contrail up (authorizer + query handler), concurrency $concurrency, ${seconds}s each" >&2
start_contrail_up "$work/serve.log" "$work/sqlite" "$bin" --no-simulate
pids+=("$CONTRAIL_UP_PID")
base=$CONTRAIL_UP_URL
token=$(cd "$work/sqlite" && "$bin" token --ttl 3600)
first=$(curl -fsS -H "Authorization: Bearer $token" "$base/flights?limit=1")
read -r id date origin < <(python3 -c 'import json,sys; f=json.loads(sys.argv[1])["items"][0]; print(f["flight_id"], f["date"], f["origin"])' "$first")

measure() {
  local name=$1; shift
  local out; out=$("$loadgen" "$@" --token "$token" --concurrency "$concurrency" --duration "$seconds")
  python3 -c 'import json,sys; d=json.loads(sys.argv[2]); d["measure"]=sys.argv[1]; print(json.dumps(d))' "$name" "$out"
}
health=$(measure "GET /health (baseline)" "$base/health")
echo "$health"
one=$(measure "GET /flights/{id}" "$base/flights/$id")
echo "$one"
page=$(measure "GET /flights?date&origin&limit=50" "$base/flights?date=$date&origin=$origin&limit=50")
echo "$page"

python3 - "$health" "$one" "$page" <<'PY'
import json, sys
h, o, p = (json.loads(a) for a in sys.argv[1:4])
print("\nsummary (same run, loopback, client and server on the same machine):")
for d in (o, p):
    print(f"  {d['measure']:<36} {d['requests_per_second']:>8.0f} req/s  p99 {d['p99_ms']:.2f} ms"
          f"  ({d['requests_per_second'] / h['requests_per_second']:.2f}x the /health baseline of {h['requests_per_second']:.0f} req/s)")
PY
