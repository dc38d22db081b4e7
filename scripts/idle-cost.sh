#!/usr/bin/env bash
# What idle sessions cost Redis: CLIENTS clients (default 5000) on two nodes, each in ROOMS rooms (default 50),
# saying nothing while Redis's commands/s and CPU are sampled for WINDOW seconds. Run once with the names' TTL at
# the claim TTL (every session's keep-alive every 5 s: how nodes worked before) and once at its default (one
# heartbeat per node; sessions' records every 20 min). Bounded: every process is stopped at the end.
#   scripts/idle-cost.sh            CLIENTS=2000 ROOMS=20 WINDOW=30 scripts/idle-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-5000}
ROOMS=${ROOMS:-50}
WINDOW=${WINDOW:-60}
REDIS_PORT=${REDIS_PORT:-6391}
BASE=${BASE:-7400}
ulimit -n 65536 2>/dev/null || true

scripts/install-deps.sh
swift build -c release
BIN=$(swift build -c release --show-bin-path)
dir=$(mktemp -d)
pids=()
stop() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; pids=(); }
trap 'stop; rm -rf "$dir"' EXIT

# One Redis INFO field, summed over the lines that have it.
info() { redis-cli -p "$REDIS_PORT" INFO "$1" | tr -d '\r' | awk -F: -v key="$2" '$1 == key { print $2 }'; }

measure() {
  local label=$1 name_ttl=$2
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  for i in 1 2; do
    "$BIN/chat-node" --host 127.0.0.1 --port $((BASE + i)) --http-port $((BASE + 100 + i)) --ops-port $((BASE + 200 + i)) \
      --node-id "node$i" --redis "redis://127.0.0.1:$REDIS_PORT" --rate-limit 1000000 --rate-burst 1000000 \
      --room-creations-per-minute 100000 --name-ttl "$name_ttl" --log-level warning >"$dir/node$i.out" 2>"$dir/node$i.log" &
    pids+=($!)
  done
  sleep 1
  "$BIN/chat-bench" run --target "127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2))" --clients "$CLIENTS" --rooms 1 \
    --extra-rooms $((ROOMS - 1)) --senders 0 --duration 1 --connect-window 256 --hold $((WINDOW + 20)) \
    >"$dir/bench.out" 2>"$dir/bench.log" &
  local bench=$!
  pids+=($bench)
  local waited=0
  until grep -q "holding the clients" "$dir/bench.log" 2>/dev/null; do
    kill -0 "$bench" 2>/dev/null || { echo "chat-bench stopped early:"; tail -5 "$dir/bench.log"; exit 1; }
    waited=$((waited + 1))
    [ "$waited" -lt 900 ] || { echo "the clients were not all in their rooms after 15 minutes:"; tail -5 "$dir/bench.log"; exit 1; }
    sleep 1
  done
  sleep 5  # past the logins' tail
  local commands0 cpu0 commands1 cpu1
  commands0=$(info stats total_commands_processed)
  cpu0=$(awk -v a="$(info cpu used_cpu_sys)" -v b="$(info cpu used_cpu_user)" 'BEGIN { print a + b }')
  sleep "$WINDOW"
  commands1=$(info stats total_commands_processed)
  cpu1=$(awk -v a="$(info cpu used_cpu_sys)" -v b="$(info cpu used_cpu_user)" 'BEGIN { print a + b }')
  local memberships
  memberships=$(redis-cli -p "$REDIS_PORT" HLEN "chat:members:{idle0}")
  awk -v label="$label" -v clients="$CLIENTS" -v rooms="$ROOMS" -v members="$memberships" -v window="$WINDOW" \
    -v c0="$commands0" -v c1="$commands1" -v u0="$cpu0" -v u1="$cpu1" \
    'BEGIN { printf "| %s | %s | %s | %s | %.0f | %.1f %% |\n", label, clients, rooms, members, (c1 - c0) / window, (u1 - u0) * 100 / window }'
  stop
  sleep 1
}

echo "| nodes | idle clients | rooms each | members of idle0 | Redis commands/s | Redis CPU |"
echo "|---|---|---|---|---|---|"
measure "every session's keep-alive every 5 s (--name-ttl 15, as before)" 15
measure "one heartbeat per node (--name-ttl 3600, the default)" 3600
