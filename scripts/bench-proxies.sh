#!/usr/bin/env bash
# Compares the latency chat-balancer adds with what HAProxy 2.6 (round-robin, TCP mode) adds, in front of the
# same nodes. Starts its own Redis, 3 nodes (PROXY protocol required) and chat-balancer, plus HAProxy sending
# PROXY headers; runs chat-bench straight to the nodes, through chat-balancer and through HAProxy, RUNS times
# each, and prints one Markdown row per run. Everything stops at the end.
#   CLIENTS=1000 RATE=1000 SENDERS=100 DURATION=5 RUNS=3 scripts/bench-proxies.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-100}; RATE=${RATE:-100}; SENDERS=${SENDERS:-10}; DURATION=${DURATION:-5}; RUNS=${RUNS:-3}
REDIS_PORT=${REDIS_PORT:-6391}; BASE=${BASE:-7700}
RUN_DIR=${RUN_DIR:-$PWD/run/bench-$(date +%Y%m%d-%H%M%S)}

scripts/install-deps.sh
command -v haproxy >/dev/null 2>&1 || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq haproxy >/dev/null; }
for product in chat-node chat-balancer chat-bench; do swift build -c release --product "$product" >/dev/null; done
BIN=$(swift build -c release --show-bin-path)
mkdir -p "$RUN_DIR"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  [ -f "$RUN_DIR/haproxy.pid" ] && kill "$(cat "$RUN_DIR/haproxy.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$RUN_DIR" >"$RUN_DIR/redis.log" 2>&1 &
pids+=($!)
sleep 0.5
nodes=()
for i in 1 2 3; do
  "$BIN/chat-node" --host 127.0.0.1 --port $((BASE + i)) --http-port $((BASE + 100 + i)) --node-id "node$i" \
    --redis "redis://127.0.0.1:$REDIS_PORT" --proxy-protocol --rate-limit 100000 --rate-burst 100000 \
    --log-level warning >"$RUN_DIR/node$i.out" 2>"$RUN_DIR/node$i.log" &
  pids+=($!)
  nodes+=("127.0.0.1:$((BASE + i))")
done
"$BIN/chat-balancer" --host 127.0.0.1 --port "$BASE" --http-port $((BASE + 100)) --admin-port $((BASE + 200)) \
  --redis "redis://127.0.0.1:$REDIS_PORT" --send-proxy --log-level warning >"$RUN_DIR/balancer.out" 2>"$RUN_DIR/balancer.log" &
pids+=($!)
cat >"$RUN_DIR/haproxy.cfg" <<CFG
global
    maxconn 9000
    nbthread 2
defaults
    mode tcp
    timeout connect 1s
    timeout client 1h
    timeout server 1h
frontend chat
    bind 127.0.0.1:$((BASE + 50))
    default_backend nodes
backend nodes
    balance roundrobin
$(for i in 1 2 3; do echo "    server node$i 127.0.0.1:$((BASE + i)) send-proxy"; done)
CFG
haproxy -D -f "$RUN_DIR/haproxy.cfg" -p "$RUN_DIR/haproxy.pid"
sleep 2

echo "| target | run | clients | rooms | msgs/s in | delivered / expected | deliveries/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | connect s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for run in $(seq "$RUNS"); do
  for target in direct chat-balancer haproxy; do
    case $target in
      direct) args=(--target "$(IFS=,; echo "${nodes[*]}")" --proxy-header) ;;
      chat-balancer) args=(--target "127.0.0.1:$BASE") ;;
      haproxy) args=(--target "127.0.0.1:$((BASE + 50))") ;;
    esac
    row=$("$BIN/chat-bench" "${args[@]}" --clients "$CLIENTS" --rooms 1 --senders "$SENDERS" --rate "$RATE" \
      --duration "$DURATION" 2>>"$RUN_DIR/bench.log" | sed -n 3p)
    echo "| $target | $run $row"
  done
done
