#!/usr/bin/env bash
# Starts a local cluster from a fresh clone: its own Redis (own port and data directory, never a system Redis)
# and NODES chat nodes (default 3), built in release mode. Ctrl-C stops all of it.
#   NODES=5 scripts/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-3}
REDIS_PORT=${REDIS_PORT:-6380}
FIRST_PORT=${FIRST_PORT:-7001}
FIRST_HTTP_PORT=${FIRST_HTTP_PORT:-8081}
RUN_DIR=${RUN_DIR:-$PWD/run/$(date +%Y%m%d-%H%M%S)}

scripts/install-deps.sh
echo "building (release)..."
swift build -c release --product chat-node
BIN=$(swift build -c release --show-bin-path)

mkdir -p "$RUN_DIR/redis"
pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped; logs are in $RUN_DIR"
}
trap stop INT TERM EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN_DIR/redis" --save "" --appendonly no \
  --daemonize no >"$RUN_DIR/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

for i in $(seq 1 "$NODES"); do
  port=$((FIRST_PORT + i - 1))
  http=$((FIRST_HTTP_PORT + i - 1))
  "$BIN/chat-node" --host 127.0.0.1 --port "$port" --http-port "$http" --node-id "node$i" \
    --redis "redis://127.0.0.1:$REDIS_PORT" >"$RUN_DIR/node$i.out" 2>"$RUN_DIR/node$i.log" &
  pids+=($!)
done
sleep 1

echo
echo "Redis on 127.0.0.1:$REDIS_PORT; $NODES nodes:"
for i in $(seq 1 "$NODES"); do
  echo "  node$i: chat  nc localhost $((FIRST_PORT + i - 1))    health  curl localhost:$((FIRST_HTTP_PORT + i - 1))/health"
done
echo "logs: $RUN_DIR"
echo "Ctrl-C stops everything."
wait
