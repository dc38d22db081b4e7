#!/usr/bin/env bash
# One Redis against a three-primary Redis Cluster, under the same chat load: CLIENTS clients spread over ROOMS
# rooms (the rooms land on every shard), SENDERS of them sending RATE messages a second in total for DURATION
# seconds, straight to two nodes. Each configuration runs RUNS times, alternating, each on fresh Redis processes
# and nodes; the table printed at the end gives the medians: deliveries a second, the p99 of delivery latency,
# and the CPU seconds each Redis process used while messages were sent (chat-bench --measure).
#   scripts/bench-redis-cluster.sh                          # 3 runs of each, 8,000 clients in 800 rooms
#   RUNS=1 CLIENTS=800 ROOMS=80 scripts/bench-redis-cluster.sh   # a quick check of the machinery
#   SCENARIO=flood scripts/bench-redis-cluster.sh           # as many messages as the nodes get into Redis (200
#                                                           # clients in 100 rooms, 16 in flight each): Redis's CPU
#                                                           # per message, where its batches are full
# Loopback only; every run is bounded by --duration, and everything it started is stopped after each run.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
SCENARIO=${SCENARIO:-chat}
CLIENTS=${CLIENTS:-8000}; ROOMS=${ROOMS:-800}; SENDERS=${SENDERS:-800}; RATE=${RATE:-5000}; DURATION=${DURATION:-5}
BASE=${BASE:-7900}; REDIS_BASE=${REDIS_BASE:-16390}
RUN_DIR=${RUN_DIR:-$PWD/run/bench-redis-cluster-$(date +%Y%m%d-%H%M%S)}
RECORDS=$RUN_DIR/records.jsonl

scripts/install-deps.sh
echo "building (release)..."
swift build -c release >/dev/null
BIN=$(swift build -c release --show-bin-path)
ulimit -n "$(ulimit -Hn)"
mkdir -p "$RUN_DIR"
echo "runs: $RUNS of each; $CLIENTS clients in $ROOMS rooms, $SENDERS senders, $RATE msgs/s for $DURATION s; records in $RECORDS"

pids=()
measure=""
stop_all() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
  sleep 1
}
trap stop_all EXIT

# start_redis single|cluster DIR: the Redis side, and the URL the nodes get.
start_redis() {
  local kind=$1 dir=$2
  local ports=()
  if [ "$kind" = single ]; then ports=("$REDIS_BASE"); else ports=($((REDIS_BASE + 1)) $((REDIS_BASE + 2)) $((REDIS_BASE + 3))); fi
  measure=""
  local index=0
  for port in "${ports[@]}"; do
    index=$((index + 1))
    local cluster=()
    [ "$kind" = cluster ] && cluster=(--cluster-enabled yes --cluster-config-file "$dir/nodes-$port.conf" --cluster-node-timeout 5000)
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" "${cluster[@]}" \
      >"$dir/redis-$port.log" 2>&1 &
    pids+=($!)
    measure="${measure:+$measure,}redis$index=$!"
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  if [ "$kind" = single ]; then
    url="redis://127.0.0.1:${ports[0]}"
  else
    redis-cli --cluster create $(for port in "${ports[@]}"; do echo "127.0.0.1:$port"; done) --cluster-yes >"$dir/create.log" 2>&1
    for _ in $(seq 100); do
      ok=0
      for port in "${ports[@]}"; do redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' && ok=$((ok + 1)); done
      [ "$ok" -eq "${#ports[@]}" ] && break
      sleep 0.1
    done
    url="redis-cluster://$(for port in "${ports[@]}"; do printf '127.0.0.1:%s,' "$port"; done | sed 's/,$//')"
  fi
}

start_nodes() {
  local dir=$1
  targets=()
  for i in 1 2; do
    "$BIN/chat-node" --host 127.0.0.1 --port $((BASE + i)) --http-port $((BASE + 100 + i)) --ops-port $((BASE + 300 + i)) \
      --node-id "node$i" --redis "$url" --proxy-protocol --rate-limit 1000000 --rate-burst 1000000 \
      --room-creations-per-minute 1000000 --log-level warning >"$dir/node$i.out" 2>"$dir/node$i.log" &
    pids+=($!)
    measure="$measure,node$i=$!"
    targets+=("127.0.0.1:$((BASE + i))")
  done
  for _ in $(seq 100); do
    up=0
    for i in 1 2; do curl -sf "127.0.0.1:$((BASE + 300 + i))/health" >/dev/null 2>&1 && up=$((up + 1)); done
    [ "$up" -eq 2 ] && break
    sleep 0.1
  done
}

for run in $(seq "$RUNS"); do
  for kind in single cluster; do
    dir="$RUN_DIR/$kind-$run"
    mkdir -p "$dir"
    start_redis "$kind" "$dir"
    start_nodes "$dir"
    echo "== $kind, run $run ($url)"
    if [ "$SCENARIO" = flood ]; then
      load=(--scenario flood --clients 200 --rooms 100 --flood-window 16 --duration "$DURATION")
    else
      load=(--clients "$CLIENTS" --rooms "$ROOMS" --senders "$SENDERS" --rate "$RATE" --duration "$DURATION")
    fi
    "$BIN/chat-bench" run --target "$(IFS=,; echo "${targets[*]}")" --proxy-header "${load[@]}" --measure "$measure" \
      --record "$RECORDS" --group "redis-cluster-$SCENARIO" --target-name "$kind" --run-number "$run" 2>>"$RUN_DIR/bench.log" | sed -n '3p'
    stop_all
  done
done

python3 - "$RECORDS" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
def median(values): return statistics.median(values) if values else float("nan")
print()
print("| Redis | messages/s | deliveries/s | p99 (ms) | delivered / expected | Redis CPU s per process while sending | Redis CPU s, all | Redis CPU µs per message, all | nodes' CPU s |")
print("|---|---|---|---|---|---|---|---|---|")
for kind in ("single", "cluster"):
    mine = [r for r in runs if r["target"] == kind]
    redis = lambda r: [p["cpuSeconds"] for p in r["processes"] if p["label"].startswith("redis")]
    labels = sorted({p["label"] for r in mine for p in r["processes"] if p["label"].startswith("redis")})
    per = ", ".join(f"{label} {median([p['cpuSeconds'] for r in mine for p in r['processes'] if p['label'] == label]):.2f}" for label in labels)
    rate = lambda r: r.get("acceptedPerSecond") or r["messagesPerSecond"]
    print(f"| {kind} | {median([rate(r) for r in mine]):,.0f} | {median([r['deliveriesPerSecond'] for r in mine]):,.0f} "
          f"| {median([r['p99'] for r in mine]):.1f} "
          f"| {median([r['delivered'] / max(r['expected'], 1) for r in mine]):.4f} | {per} "
          f"| {median([sum(redis(r)) for r in mine]):.2f} "
          f"| {median([sum(redis(r)) * 1e6 / max(rate(r) * r['duration'], 1) for r in mine]):.1f} "
          f"| {median([sum(p['cpuSeconds'] for p in r['processes'] if p['label'].startswith('node')) for r in mine]):.2f} |")
print(f"\n{len(runs)} runs; medians. Command: {runs[0]['command'] if runs else ''}")
PY
