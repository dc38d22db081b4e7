#!/usr/bin/env bash
# The soak: three chat nodes and the balancer on a Sentinel-managed Redis (a primary, a replica, three sentinels),
# people chatting through the balancer (`chat-bench soak`: each in two rooms, a message every second or so, coming
# back after every dropped connection as the web page does) while faults come on a schedule, one every
# FAULT_EVERY seconds, in turn:
#   a node killed (kill -9) and started again 2 s later;  a node stopped (SIGTERM) and started again;
#   the balancer restarted;  the Redis primary killed (the sentinels promote the replica; the old primary comes
#   back as its replica).
# Faults hit node1 and node2 only (turn about, a round of four faults each): node3 runs the whole soak, and its
# memory and descriptors are sampled every 10 s (run/soak-*/samples.csv) to show whether they grow. At the end an
# auditor reads every room's whole history, and the checker reads what every person sent, was told and was shown
# (SoakChecker, docs/reliability.md): every acknowledged message reached everyone in its room once, in order, or a
# gap was told. Exit 1 if not, or if a fault could not be carried out.
#   scripts/soak.sh                              # an hour
#   DURATION=90 FAULT_EVERY=15 scripts/soak.sh   # the short run the test command makes (SoakTests)
# Loopback only; everything it starts is stopped when it ends. BIN=... uses those builds instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-3600}
FAULT_EVERY=${FAULT_EVERY:-60}
PEOPLE=${PEOPLE:-60}
ROOMS=${ROOMS:-10}
BASE=${BASE:-7900}
RUN_DIR=${RUN_DIR:-$PWD/run/soak-$(date +%Y%m%d-%H%M%S)}
if [ -z "${BIN:-}" ]; then
  scripts/install-deps.sh
  echo "building (release)..."
  swift build -c release >/dev/null
  BIN=$(swift build -c release --show-bin-path)
fi
mkdir -p "$RUN_DIR"
ulimit -n "$(ulimit -Hn)"

DATA_PORTS=($((BASE + 10)) $((BASE + 11)))
SENTINEL_PORTS=($((BASE + 20)) $((BASE + 21)) $((BASE + 22)))
SENTINELS=$(IFS=,; for port in "${SENTINEL_PORTS[@]}"; do printf '127.0.0.1:%s,' "$port"; done)
REDIS_URL="redis-sentinel://${SENTINELS%,}/chat"
declare -A pid_of

start_data() { # PORT [PRIMARY_PORT]
  local port=$1
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$RUN_DIR" \
    --dbfilename "dump-$port.rdb" --repl-diskless-sync-delay 0 ${2:+--replicaof 127.0.0.1 $2} \
    >>"$RUN_DIR/redis-$port.log" 2>&1 &
  pid_of[redis$port]=$!
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
}
start_sentinel() { # PORT
  cat >"$RUN_DIR/sentinel-$1.conf" <<CONF
port $1
bind 127.0.0.1
protected-mode no
dir $RUN_DIR
sentinel monitor chat 127.0.0.1 ${DATA_PORTS[0]} 2
sentinel down-after-milliseconds chat 1000
sentinel failover-timeout chat 3000
CONF
  redis-server "$RUN_DIR/sentinel-$1.conf" --sentinel >>"$RUN_DIR/sentinel-$1.log" 2>&1 &
  pid_of[sentinel$1]=$!
}
start_node() { # N
  local i=$1
  "$BIN/chat-node" --host 127.0.0.1 --port $((BASE + i)) --http-port $((BASE + 100 + i)) \
    --ops-port $((BASE + 300 + i)) --node-id "node$i" --redis "$REDIS_URL" --proxy-protocol \
    --ack-replicas 1 --ack-timeout-ms 500 --rate-limit 100 --rate-burst 100 --history-length 100000 \
    >>"$RUN_DIR/node$i.out" 2>>"$RUN_DIR/node$i.log" &
  pid_of[node$i]=$!
}
start_balancer() {
  "$BIN/chat-balancer" --host 127.0.0.1 --port "$BASE" --http-port $((BASE + 100)) --admin-port $((BASE + 200)) \
    --redis "$REDIS_URL" --send-proxy --max-connections-per-address 0 --connect-rate-per-address 0 \
    >>"$RUN_DIR/balancer.out" 2>>"$RUN_DIR/balancer.log" &
  pid_of[balancer]=$!
}
nodes_up() { curl -s "127.0.0.1:$((BASE + 200))/nodes" 2>/dev/null | grep -o '"state":"up"' | wc -l || true; }
wait_for_nodes() {
  for _ in $(seq 150); do [ "$(nodes_up)" -ge 3 ] && return 0; sleep 0.1; done
  echo "soak: the balancer does not see 3 nodes up" >&2
}
primary_port() { redis-cli -p "${SENTINEL_PORTS[0]}" sentinel get-master-addr-by-name chat 2>/dev/null | tail -1; }
# Stops a process, waiting at most 10 s for it (then kill -9); a process already gone is fine.
stop_process() { # SIGNAL PID
  kill "-$1" "$2" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$2" 2>/dev/null || true
  wait "$2" 2>/dev/null || true
}
stop_all() {
  trap - EXIT INT TERM
  for name in "${!pid_of[@]}"; do kill -TERM "${pid_of[$name]}" 2>/dev/null || true; done
  sleep 1
  for name in "${!pid_of[@]}"; do kill -KILL "${pid_of[$name]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT INT TERM

start_data "${DATA_PORTS[0]}"
start_data "${DATA_PORTS[1]}" "${DATA_PORTS[0]}"
for _ in $(seq 100); do
  redis-cli -p "${DATA_PORTS[1]}" info replication | grep -q master_link_status:up && break
  sleep 0.1
done
for port in "${SENTINEL_PORTS[@]}"; do start_sentinel "$port"; done
for _ in $(seq 100); do
  [ "$(redis-cli -p "${SENTINEL_PORTS[0]}" sentinel master chat 2>/dev/null | grep -A1 num-other-sentinels | tail -1)" = 2 ] && break
  sleep 0.2
done
for i in 1 2 3; do start_node "$i"; done
start_balancer
wait_for_nodes

echo "soak: $PEOPLE people in $ROOMS rooms for $DURATION s, a fault every $FAULT_EVERY s; logs in $RUN_DIR"
"$BIN/chat-bench" soak --target "127.0.0.1:$BASE" --people "$PEOPLE" --rooms "$ROOMS" --duration "$DURATION" \
  --journal "$RUN_DIR/journal.jsonl" --faults "$RUN_DIR/faults.txt" >"$RUN_DIR/verdict.txt" 2>"$RUN_DIR/soak.log" &
soak=$!
pid_of[soak]=$soak
: >"$RUN_DIR/faults.txt"

echo "seconds,node3_rss_kb,node3_fds" >"$RUN_DIR/samples.csv"
sample() {
  local pid=${pid_of[node3]}
  echo "$SECONDS,$(ps -o rss= -p "$pid" | tr -d ' '),$(ls "/proc/$pid/fd" | wc -l)" >>"$RUN_DIR/samples.csv"
}
faults=(kill-node term-node restart-balancer fail-primary)
fault=0
status=0
noted() { echo "$(date +%s%3N) $1" >>"$RUN_DIR/faults.txt"; echo "soak: $((SECONDS - started)) s: $1"; }
started=$SECONDS
next_fault=$((started + FAULT_EVERY))
next_sample=$started
# No fault in the last 10 s of sending: the last one has settled when the checker looks.
while kill -0 "$soak" 2>/dev/null; do
  sleep 1
  if [ "$SECONDS" -ge "$next_sample" ]; then sample; next_sample=$((next_sample + 10)); fi
  [ "$SECONDS" -ge "$next_fault" ] && [ $((SECONDS - started)) -lt $((DURATION - 10)) ] || continue
  next_fault=$((SECONDS + FAULT_EVERY))
  node=$((fault / ${#faults[@]} % 2 + 1))
  what=${faults[$((fault % ${#faults[@]}))]}
  fault=$((fault + 1))
  case $what in
    kill-node)
      stop_process KILL "${pid_of[node$node]}"; noted "$what node$node"
      sleep 2; start_node "$node" ;;
    term-node)
      stop_process TERM "${pid_of[node$node]}"; noted "$what node$node"
      start_node "$node" ;;
    restart-balancer)
      stop_process TERM "${pid_of[balancer]}"; noted "$what"
      start_balancer; wait_for_nodes ;;
    fail-primary)
      old=$(primary_port)
      if [ -z "${pid_of[redis$old]:-}" ]; then
        echo "soak: the sentinels name no primary this script started ($old)" >&2; status=1; continue
      fi
      stop_process KILL "${pid_of[redis$old]}"; noted "$what"
      for _ in $(seq 300); do [ "$(primary_port)" != "$old" ] && break; sleep 0.1; done
      new=$(primary_port)
      if [ "$new" = "$old" ] || [ -z "$new" ]; then
        echo "soak: no replica was promoted within 30 s" >&2; status=1; start_data "$old"; continue
      fi
      start_data "$old" "$new" ;;
  esac
done
wait "$soak" || status=$?
unset 'pid_of[soak]'
sample
cat "$RUN_DIR/verdict.txt"
echo "faults: $(wc -l <"$RUN_DIR/faults.txt"); node3 (never faulted) over the run, seconds,rss_kb,fds: $(sed -n 2p "$RUN_DIR/samples.csv") -> $(tail -1 "$RUN_DIR/samples.csv")"
echo "journal: $RUN_DIR/journal.jsonl"
exit "$status"
