#!/usr/bin/env bash
# Starts the whole local cluster from a fresh clone: its own Redis (own port and data directory, never a system
# Redis), its own PostgreSQL for the archive (history past Redis, and search; its data in run/postgres, kept from
# run to run, on PG_PORT 5433; ARCHIVE=0 for none; as root it runs as Debian's postgres user, which must be able
# to reach PG_DIR), NODES chat nodes (default 3) and the balancer in front, all built in release mode. Ctrl-C
# stops it.
# The balancer also serves TLS (chat on 7443, HTTPS and WSS on 8443) with a development certificate made once in
# run/dev-tls by scripts/dev-cert.sh; clients trust it with its CA, run/dev-tls/dev-ca.pem.
#   scripts/cluster.sh            NODES=5 scripts/cluster.sh
# BIN=DIR runs the executables in DIR as they are, neither installing nor building (the test command runs this
# script so, with its debug build and ports of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh

NODES=${NODES:-3}
REDIS_PORT=${REDIS_PORT:-6380}
CHAT_PORT=${CHAT_PORT:-7000}
HTTP_PORT=${HTTP_PORT:-8080}
ADMIN_PORT=${ADMIN_PORT:-9000}
TLS_PORT=${TLS_PORT:-7443}
IRC_PORT=${IRC_PORT:-6667}
IRC_TLS_PORT=${IRC_TLS_PORT:-6697}
FIRST_NODE_IRC_PORT=${FIRST_NODE_IRC_PORT:-6671}
HTTPS_PORT=${HTTPS_PORT:-8443}
TLS_DIR=${TLS_DIR:-$PWD/run/dev-tls}
FIRST_NODE_PORT=${FIRST_NODE_PORT:-7001}
FIRST_NODE_HTTP_PORT=${FIRST_NODE_HTTP_PORT:-8081}
FIRST_NODE_OPS_PORT=${FIRST_NODE_OPS_PORT:-9101}
RUN_DIR=${RUN_DIR:-$PWD/run/$(date +%Y%m%d-%H%M%S)}
ARCHIVE=${ARCHIVE:-1}
PG_PORT=${PG_PORT:-5433}
PG_DIR=${PG_DIR:-$PWD/run/postgres}

if [ -z "${BIN:-}" ]; then
  scripts/install-deps.sh
  echo "building (release; the first build takes several minutes)..."
  # Every product in one build: building them one --product at a time rebuilt shared modules for minutes even
  # right after a full release build, and one build also makes `chat` ready to run.
  swift build -c release
  BIN=$(swift build -c release --show-bin-path)
fi

# One development certificate for every run (a browser told to trust it once keeps trusting it); remade when it
# is missing or expires within a day.
if ! openssl x509 -checkend 86400 -noout -in "$TLS_DIR/dev-chain.pem" >/dev/null 2>&1; then
  scripts/dev-cert.sh "$TLS_DIR" dev 30
fi

mkdir -p "$RUN_DIR/redis"
pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  # Nodes first (they tell their clients and release their names), then the balancer, then Redis.
  for pid in "${pids[@]:2}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]:2}"; do wait "$pid" 2>/dev/null || true; done
  kill -TERM "${pids[1]}" 2>/dev/null || true; wait "${pids[1]}" 2>/dev/null || true
  kill -TERM "${pids[0]}" 2>/dev/null || true; wait "${pids[0]}" 2>/dev/null || true
  stop_postgres
  echo "stopped; logs are in $RUN_DIR"
}
pg_pid=
trap stop INT TERM EXIT

archive=()
if [ "$ARCHIVE" = "1" ]; then
  start_postgres "$PG_DIR" "$PG_PORT" "$RUN_DIR" chat
  archive=(--archive "postgres://chat@127.0.0.1:$PG_PORT/chat?sslmode=disable")
fi

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN_DIR/redis" --save "" --appendonly no \
  --daemonize no >"$RUN_DIR/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

"$BIN/chat-balancer" --port "$CHAT_PORT" --http-port "$HTTP_PORT" --admin-port "$ADMIN_PORT" \
  --tls-port "$TLS_PORT" --https-port "$HTTPS_PORT" --tls-cert "$TLS_DIR/dev-chain.pem" --tls-key "$TLS_DIR/dev-server.key" \
  --irc-port "$IRC_PORT" --irc-tls-port "$IRC_TLS_PORT" \
  --redis "redis://127.0.0.1:$REDIS_PORT" --send-proxy >"$RUN_DIR/balancer.out" 2>"$RUN_DIR/balancer.log" &
pids+=($!)

for i in $(seq 1 "$NODES"); do
  "$BIN/chat-node" --host 127.0.0.1 --port $((FIRST_NODE_PORT + i - 1)) --http-port $((FIRST_NODE_HTTP_PORT + i - 1)) \
    --ops-port $((FIRST_NODE_OPS_PORT + i - 1)) --irc-port $((FIRST_NODE_IRC_PORT + i - 1)) \
    --node-id "node$i" --redis "redis://127.0.0.1:$REDIS_PORT" --proxy-protocol "${archive[@]}" \
    >"$RUN_DIR/node$i.out" 2>"$RUN_DIR/node$i.log" &
  pids+=($!)
done

# Ready when the balancer has discovered every node.
for _ in $(seq 100); do
  up=$(curl -s "localhost:$ADMIN_PORT/nodes" 2>/dev/null | grep -o '"state":"up"' | wc -l || true)
  [ "$up" -ge "$NODES" ] && break
  sleep 0.1
done

cat <<INFO

swift-redis-chat is running: Redis, $NODES nodes and the balancer$([ "$ARCHIVE" = 1 ] && echo ", with the archive in PostgreSQL (127.0.0.1:$PG_PORT, data in $PG_DIR)").
  web        http://localhost:$HTTP_PORT/         (the web client, through the balancer)
  web (TLS)  https://localhost:$HTTPS_PORT/        (a development certificate: trust $TLS_DIR/dev-ca.pem)
  terminal   $BIN/chat --name YOU --server localhost:$CHAT_PORT
  over TLS   $BIN/chat --name YOU --server localhost:$TLS_PORT --tls --ca-file $TLS_DIR/dev-ca.pem
  chat       nc localhost $CHAT_PORT            (or telnet localhost $CHAT_PORT)
  chat (TLS) openssl s_client -quiet -connect localhost:$TLS_PORT -CAfile $TLS_DIR/dev-ca.pem
  IRC        irssi -c localhost -p $IRC_PORT -n YOU   (or WeeChat; over TLS on $IRC_TLS_PORT with the dev CA)
  new cert   kill -HUP ${pids[1]}   makes the balancer reread its certificate files (open connections stay)
  node ops   curl localhost:$FIRST_NODE_OPS_PORT/health   (and /metrics; each node's own port, loopback only)
  status     http://localhost:$ADMIN_PORT/        the live status page (JSON: /status)
  nodes      curl localhost:$ADMIN_PORT/nodes    balancer metrics: curl localhost:$ADMIN_PORT/metrics
logs:
  $RUN_DIR/balancer.log
$(for i in $(seq 1 "$NODES"); do echo "  $RUN_DIR/node$i.log"; done)
  $RUN_DIR/redis.log$([ "$ARCHIVE" = 1 ] && printf '\n  %s' "$RUN_DIR/postgres.log")
Ctrl-C stops everything.
INFO
wait
