# Sourced by scripts/cluster.sh and scripts/bench.sh: a PostgreSQL of their own.
# start_postgres DATA_DIR PORT LOG_DIR DATABASE [SETTING...]: makes the cluster in DATA_DIR once (user `chat`,
# trusted on loopback), starts it on 127.0.0.1:PORT (each SETTING a `-c name=value`), waits for it and creates
# DATABASE. Sets pg_pid. PostgreSQL will not run as root: then it runs as Debian's postgres user (setpriv execs, so
# pg_pid is the server's), and DATA_DIR is that user's.
start_postgres() {
  local data=$1 port=$2 logs=$3 database=$4
  shift 4
  local settings=() setting
  for setting in "$@"; do settings+=(-c "$setting"); done
  local pg_bin
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$pg_bin" ] || pg_bin=$(dirname "$(command -v postgres)")
  local as_pg=()
  if [ "$(id -u)" -eq 0 ]; then as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi
  if [ ! -s "$data/PG_VERSION" ]; then
    install -d -m 700 "$data"
    if [ ${#as_pg[@]} -gt 0 ]; then chown postgres:postgres "$data"; fi
    "${as_pg[@]}" "$pg_bin/initdb" -D "$data" -U chat --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$logs/postgres-initdb.log" 2>&1
  fi
  "${as_pg[@]}" "$pg_bin/postgres" -D "$data" -p "$port" -k "$data" -c listen_addresses=127.0.0.1 \
    ${settings[@]+"${settings[@]}"} >"$logs/postgres.log" 2>&1 &
  pg_pid=$!
  for _ in $(seq 100); do psql -h 127.0.0.1 -p "$port" -U chat -d postgres -tAc 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
  if [ "$(psql -h 127.0.0.1 -p "$port" -U chat -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]; then
    psql -h 127.0.0.1 -p "$port" -U chat -d postgres -qc "CREATE DATABASE $database"
  fi
}

# stop_postgres: a fast shutdown (SIGINT): open transactions roll back, what was committed stays.
stop_postgres() {
  if [ -n "${pg_pid:-}" ]; then kill -INT "$pg_pid" 2>/dev/null || true; wait "$pg_pid" 2>/dev/null || true; fi
  pg_pid=
}
