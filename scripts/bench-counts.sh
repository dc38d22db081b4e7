#!/usr/bin/env bash
# Counts that do not move with the machine's load, for docs/benchmarks.md: heap allocations (malloc,
# swift_allocObject) and reference-count increments (swift_retain) a release chat-node makes per flooded message
# and per fanned-out delivery, counted exactly with uprobes (perf probe) while chat-bench drives it.
#   sudo scripts/bench-counts.sh         # needs root (uprobes) and Debian's linux-perf; about a minute
# valgrind's callgrind (instruction counts) cannot run the node here: valgrind 3.19 stops on the node's first
# rt_sigsuspend at start-up; `perf stat -e instructions` is "not supported" on this VM (no PMU). Allocations and
# retains are what the node's profile shows it spends its own time on (docs/benchmarks.md), and their counts
# repeat within about 2% from run to run however busy the machine is.
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_PORT=${REDIS_PORT:-6493}; BASE=${BASE:-7600}
command -v perf >/dev/null || { echo "needs perf (Debian's linux-perf)" >&2; exit 1; }
swift build -c release >/dev/null
BIN=$(swift build -c release --show-bin-path 2>/dev/null)
LIBC=$(ldd "$BIN/chat-node" | awk '/libc.so.6/{print $3}')
SWIFT_CORE=$(ldd "$BIN/chat-node" | awk '/libswiftCore.so/{print $3}')
perf probe -q -x "$LIBC" malloc 2>/dev/null || true
perf probe -q -x "$SWIFT_CORE" swift_retain 2>/dev/null || true
perf probe -q -x "$SWIFT_CORE" swift_allocObject 2>/dev/null || true
EVENTS=probe_libc:malloc,probe_libswiftCore:swift_allocObject,probe_libswiftCore:swift_retain
DIR=$(mktemp -d)
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$DIR"' EXIT

# count LABEL WINDOW UNITS CHAT-BENCH-ARGS...: counts over one chat-bench run on a fresh Redis and node. With
# WINDOW 0 the whole run is counted and divided by the messages delivered (the flood); otherwise WINDOW seconds of
# steady sending, starting 6 s in (after the logins, which are not what is measured), divided by UNITS per second.
count() {
  local label=$1 window=$2 per_second=$3
  shift 3
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$DIR" >"$DIR/redis.log" 2>&1 &
  local redis=$!
  pids=("$redis")
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  "$BIN/chat-node" --host 127.0.0.1 --port $((BASE + 1)) --http-port $((BASE + 2)) --ops-port $((BASE + 3)) \
    --irc-port $((BASE + 4)) --redis "redis://127.0.0.1:$REDIS_PORT" --proxy-protocol --rate-limit 1000000 \
    --rate-burst 1000000 --room-creations-per-minute 1000000 --log-level warning >"$DIR/node.log" 2>&1 &
  local node=$!
  pids+=("$node")
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$((BASE + 1))) 2>/dev/null && break; sleep 0.1; done
  if [ "$window" = 0 ]; then
    perf stat -e "$EVENTS" -x, -p "$node" -o "$DIR/stat.csv" &
  else
    (sleep 6; perf stat -e "$EVENTS" -x, -p "$node" -o "$DIR/stat.csv" -- sleep "$window") &
  fi
  local stat=$!
  sleep 0.5
  "$BIN/chat-bench" run --proxy-header "$@" 2>/dev/null >"$DIR/bench.md"
  [ "$window" = 0 ] && kill -INT "$stat"
  wait "$stat" || true
  local units
  if [ "$window" = 0 ]; then
    # The run's result line: | clients | rooms | msgs/s | delivered / expected | ...
    units=$(awk -F'|' '/^\| [0-9]+ \| [0-9]+ \|/{split($5, a, "/"); gsub(/ /, "", a[1]); print a[1]; exit}' "$DIR/bench.md")
  else
    units=$((per_second * window))
  fi
  awk -F, -v units="$units" -v label="$label" '
    /probe_/ { name = $3; sub(/.*:/, "", name); value[name] = $1 / units }
    END { printf "| %s | %.2f | %.2f | %.2f |\n", label, value["malloc"], value["swift_allocObject"], value["swift_retain"] }
  ' "$DIR/stat.csv"
  kill "$node" "$redis" 2>/dev/null || true
  wait "$node" "$redis" 2>/dev/null || true
  pids=()
  sleep 0.5
}

echo "| per | malloc | swift_allocObject | swift_retain |"
echo "|---|---|---|---|"
# Flood: 200 JSON clients in rooms of two, 16 messages each unacknowledged; each message reaches the other member.
count "flooded message (200 JSON clients in rooms of 2)" 0 0 --target 127.0.0.1:$((BASE + 1)) --scenario flood \
  --clients 200 --rooms 100 --flood-window 16 --duration 4
# Fan-out: 1,000 IRC clients in one room, 100 senders, 200 msgs/s: 199,800 deliveries a second.
count "delivery (1,000 IRC clients in one room, 200 msgs/s)" 3 199800 --target 127.0.0.1:$((BASE + 4)) --mode irc \
  --clients 1000 --rooms 1 --senders 100 --rate 200 --duration 12
