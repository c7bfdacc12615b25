# Sourced by the test and benchmark scripts: what they share.
#
#   is_ci               CI is set (and not "false" or "0"): nothing may be skipped
#   unavailable REASON  what the script checks ($checks, set by the caller) cannot run here: exits 77
#                       (skipped) with a loud line, or 1 when CI is set
#   free_port           a TCP port on 127.0.0.1 that nothing listens on now (it may be taken before use)

is_ci() { [[ -n "${CI:-}" && "${CI}" != "false" && "${CI}" != "0" ]]; }

unavailable() {
  if is_ci; then
    echo "FATAL: $1; CI=true forbids skipping ${checks:-these checks}" >&2
    exit 1
  fi
  printf '\n!!! SKIPPED %s: %s\n\n' "${checks:-these checks}" "$1" >&2
  exit 77
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
