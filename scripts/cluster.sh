#!/usr/bin/env bash
# Starts the whole local cluster from a fresh clone: its own Redis (own port and data directory, never a system
# Redis), NODES chat nodes (default 3) and the balancer in front, all built in release mode. Ctrl-C stops it.
#   scripts/cluster.sh            NODES=5 scripts/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-3}
REDIS_PORT=${REDIS_PORT:-6380}
CHAT_PORT=${CHAT_PORT:-7000}
HTTP_PORT=${HTTP_PORT:-8080}
ADMIN_PORT=${ADMIN_PORT:-9000}
FIRST_NODE_PORT=${FIRST_NODE_PORT:-7001}
FIRST_NODE_HTTP_PORT=${FIRST_NODE_HTTP_PORT:-8081}
FIRST_NODE_OPS_PORT=${FIRST_NODE_OPS_PORT:-9101}
RUN_DIR=${RUN_DIR:-$PWD/run/$(date +%Y%m%d-%H%M%S)}

scripts/install-deps.sh
echo "building (release; the first build takes several minutes)..."
# Every product in one build: building them one --product at a time rebuilt shared modules for minutes even
# right after a full release build, and one build also makes `chat` ready to run.
swift build -c release
BIN=$(swift build -c release --show-bin-path)

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
  echo "stopped; logs are in $RUN_DIR"
}
trap stop INT TERM EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN_DIR/redis" --save "" --appendonly no \
  --daemonize no >"$RUN_DIR/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

"$BIN/chat-balancer" --port "$CHAT_PORT" --http-port "$HTTP_PORT" --admin-port "$ADMIN_PORT" \
  --redis "redis://127.0.0.1:$REDIS_PORT" --send-proxy >"$RUN_DIR/balancer.out" 2>"$RUN_DIR/balancer.log" &
pids+=($!)

for i in $(seq 1 "$NODES"); do
  "$BIN/chat-node" --host 127.0.0.1 --port $((FIRST_NODE_PORT + i - 1)) --http-port $((FIRST_NODE_HTTP_PORT + i - 1)) \
    --ops-port $((FIRST_NODE_OPS_PORT + i - 1)) \
    --node-id "node$i" --redis "redis://127.0.0.1:$REDIS_PORT" --proxy-protocol \
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

swift-redis-chat is running: Redis, $NODES nodes and the balancer.
  web        http://localhost:$HTTP_PORT/         (the web client, through the balancer)
  terminal   $BIN/chat --name YOU --server localhost:$CHAT_PORT
  chat       nc localhost $CHAT_PORT            (or telnet localhost $CHAT_PORT)
  node ops   curl localhost:$FIRST_NODE_OPS_PORT/health   (and /metrics; each node's own port, loopback only)
  nodes      curl localhost:$ADMIN_PORT/nodes    balancer metrics: curl localhost:$ADMIN_PORT/metrics
logs:
  $RUN_DIR/balancer.log
$(for i in $(seq 1 "$NODES"); do echo "  $RUN_DIR/node$i.log"; done)
  $RUN_DIR/redis.log
Ctrl-C stops everything.
INFO
wait
