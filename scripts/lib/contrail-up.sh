# Sourced by the scripts that run `contrail up` in the background (scripts/test-web, scripts/test-fuzz,
# bench/local-stack.sh): one way to start it and know it is ours.
#
#   start_contrail_up LOG DIR BIN [ARGS...]
#
# Starts BIN up --listen 127.0.0.1:0 ARGS... in DIR with stdout and stderr to LOG, then waits until the
# address the child prints in its banner ("contrail is up: http://…/") answers GET /health. Port 0 lets the
# kernel pick a port nobody holds, and the banner comes from the child itself, so the server polled is the
# one started here. Sets CONTRAIL_UP_PID and CONTRAIL_UP_URL (no trailing slash); returns 1, with the log on
# stderr, when the child exits or is not healthy within 60 s (then it is killed).
start_contrail_up() {
  local log=$1 dir=$2 bin=$3
  shift 3
  (cd "$dir" && exec "$bin" up --listen 127.0.0.1:0 "$@") >"$log" 2>&1 &
  CONTRAIL_UP_PID=$!
  CONTRAIL_UP_URL=""
  local _
  for _ in $(seq 1 600); do
    if [[ -z $CONTRAIL_UP_URL ]]; then
      CONTRAIL_UP_URL=$(sed -n 's|^contrail is up: \(http://[^/]*\)/$|\1|p' "$log" | head -n 1)
    fi
    if [[ -n $CONTRAIL_UP_URL ]] && curl -fsS "$CONTRAIL_UP_URL/health" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$CONTRAIL_UP_PID" 2>/dev/null; then
      echo "contrail up exited:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "contrail up did not become healthy within 60 s:" >&2
  cat "$log" >&2
  kill "$CONTRAIL_UP_PID" 2>/dev/null || true
  return 1
}
