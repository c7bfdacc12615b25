# Sourced by the scripts that need a PostgreSQL of their own (scripts/test-web, scripts/check-build,
# bench/local-stack.sh): a
# throwaway cluster from the binaries on the machine, run as the postgres account when run as root (initdb
# refuses root). The caller sources scripts/lib/common.sh first and sets `scratch` (a private temporary
# directory) and `logs` (where initdb's log goes).
#
#   pg_bin=$(find_pg_bin)   the directory of initdb and pg_ctl: PG_BIN, /usr/lib/postgresql/*/bin, pg_config
#   start_pg                a new cluster in $scratch/pg on a free port; sets pg_url (its postgres database)
#   stop_pg                 stops it at once (safe to call twice)

pg=""

pg_run() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$pg_bin/$1" "${@:2}"; else "$pg_bin/$1" "${@:2}"; fi
}

stop_pg() {
  if [[ -n $pg ]]; then
    pg_run pg_ctl -D "$pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    pg=""
  fi
}

find_pg_bin() {
  if [[ -n ${PG_BIN:-} && -x $PG_BIN/initdb ]]; then echo "$PG_BIN"; return; fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x $d/initdb && -x $d/pg_ctl ]] && { echo "$d"; return; }
  done
  if command -v pg_config >/dev/null && [[ -x $(pg_config --bindir)/initdb ]]; then pg_config --bindir; fi
}

start_pg() {
  pg="$scratch/pg"
  mkdir -p "$pg"
  if [[ $(id -u) -eq 0 ]]; then
    chmod 711 "$scratch"
    chown -R postgres "$pg"
  fi
  local initdb_log="$logs/$(basename "$0")-pg-initdb.log"
  pg_run initdb -D "$pg/data" -U contrail --auth=trust -E UTF8 --no-sync >"$initdb_log" 2>&1 \
    || { echo "initdb failed ($initdb_log):" >&2; cat "$initdb_log" >&2; return 1; }
  # PostgreSQL needs its port up front: a port probed free can be taken before it binds, so a start that
  # fails is retried on another port. pg_ctl -w waits for the postmaster.pid of this cluster's own data
  # directory to report the server ready, so "started" means this cluster.
  local port attempt
  for attempt in 1 2 3; do
    port=$(free_port)
    rm -f "$pg/server.log"
    if pg_run pg_ctl -D "$pg/data" -l "$pg/server.log" -w -t 60 \
      -o "-p $port -k $pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null; then
      break
    fi
    if [[ $attempt -eq 3 ]] || ! grep -q "could not bind\|could not create any TCP/IP sockets" "$pg/server.log"; then
      echo "PostgreSQL did not start:" >&2; cat "$pg/server.log" >&2; return 1
    fi
    echo "port $port was taken; trying another" >&2
  done
  pg_url="postgres://contrail@127.0.0.1:$port/postgres"
}
