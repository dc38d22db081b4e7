#!/usr/bin/env bash
# The soak: three chat nodes and the balancer on a Redis with replicas (REDIS=sentinel: a primary, a replica, three
# sentinels; REDIS=cluster: three primaries, a replica each; scripts/soak-redis.sh), people chatting through the
# balancer (`chat-bench soak`: each in two rooms, a message every second or so, coming back after every dropped
# connection as the web page does, or, one person in three, as an IRC bot does: registering again, reading what it
# missed with CHATHISTORY) while faults come on a schedule, one every FAULT_EVERY seconds, in turn:
#   a node killed (kill -9) and started again 2 s later;  a node stopped (SIGTERM) and started again;
#   the balancer restarted;  a Redis primary killed (a replica is promoted; the old primary comes back as its
#   replica);  a connect storm (STORM_CLIENTS IRC clients at once through the balancer, all in, nothing lost);
#   on a cluster, a room's slot migrated to another primary while people chat in it;
# and, where network namespaces can be made (root; NETWORK=namespaces, or loopback to run without), every process
# on a host of its own joined by a bridge, so a node can be
#   cut off (its cable unplugged for CUT_SECONDS: from Redis, the balancer and its clients at once, nothing reset);
#   put on a slow link (a token bucket on its cable both ways for 10 s: queues, delays and drops under load; this
#   kernel has no netem).
# FAULTS="fail-primary migrate-slot ..." picks the round instead. Faults hit node1 and node2 only (turn about, a
# round each): node3 runs the whole soak, and its memory and descriptors are sampled every 10 s (samples.csv) to
# show whether they grow. At the end an auditor reads every room's whole history, and the checker reads what
# every person sent, was told and was shown (SoakChecker, docs/reliability.md): every acknowledged message reached
# everyone in its room once, in order, or a gap was told. Exit 1 if not, if a fault could not be carried out, if a
# node kept sessions after everyone left, or (runs of 10 minutes or more) if node3's memory grew by more than a
# fifth and 10 MB after the first quarter.
#   scripts/soak.sh                                          # an hour on Sentinel
#   REDIS=cluster scripts/soak.sh                            # an hour on a Redis Cluster
#   DURATION=85 FAULT_EVERY=8 PEOPLE=30 ROOMS=6 scripts/soak.sh    # the short run of the test command (SoakTests)
# Loopback and namespaces it makes only; everything it starts is stopped, and its namespaces removed, when it
# ends. BIN=... uses those builds instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-3600}
FAULT_EVERY=${FAULT_EVERY:-60}
PEOPLE=${PEOPLE:-60}
ROOMS=${ROOMS:-10}
BASE=${BASE:-7900}
CUT_SECONDS=${CUT_SECONDS:-5}
NETWORK=${NETWORK:-auto}
REDIS=${REDIS:-sentinel}
STORM_CLIENTS=${STORM_CLIENTS:-2000}
RUN_DIR=${RUN_DIR:-$PWD/run/soak-$(date +%Y%m%d-%H%M%S)}
if [ -z "${BIN:-}" ]; then
  scripts/install-deps.sh
  echo "building (release)..."
  swift build -c release >/dev/null
  BIN=$(swift build -c release --show-bin-path)
fi
mkdir -p "$RUN_DIR"
ulimit -n "$(ulimit -Hn)"

# Hosts: in namespaces, each its own address on a bridge that lives in a namespace of its own (nothing touches the
# machine's network); on loopback, all of them 127.0.0.1. `on HOST cmd` runs a command there; `in_host HOST` sets
# W to the prefix that does, for processes started in the background (so $! is the program's own pid).
NS=soak$$
HOSTS=(front redis node1 node2 node3)
declare -A address_of link_of
if [ "$NETWORK" = auto ]; then
  NETWORK=loopback
  # Everything the faults use: a namespace, a bridge, a veth pair, and a token bucket on it.
  if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v tc >/dev/null &&
    ip netns add "$NS-probe" 2>/dev/null; then
    if ip -n "$NS-probe" link add probebr type bridge 2>/dev/null &&
      ip -n "$NS-probe" link add probe0 type veth peer name probe1 2>/dev/null &&
      ip netns exec "$NS-probe" tc qdisc add dev probe0 root tbf rate 256kbit burst 16kbit latency 300ms 2>/dev/null
    then
      NETWORK=namespaces
    fi
    ip netns del "$NS-probe"
  fi
fi
# Namespaces a run killed with SIGKILL left behind (soakPID-*, its PID gone) are removed first.
for stale in $(ip netns list 2>/dev/null | grep -o '^soak[0-9]*-[a-z0-9]*' || true); do
  owner=${stale%%-*}
  kill -0 "${owner#soak}" 2>/dev/null || ip netns del "$stale" 2>/dev/null || true
done
in_host() { W=(); if [ "$NETWORK" = namespaces ]; then W=(ip netns exec "$NS-$1"); fi; }
on() { local host=$1; shift; in_host "$host"; "${W[@]}" "$@"; }
addr() { echo "${address_of[$1]:-127.0.0.1}"; }
if [ "$NETWORK" = namespaces ]; then
  for index in "${!HOSTS[@]}"; do
    address_of[${HOSTS[$index]}]=10.232.0.$((index + 2))
    link_of[${HOSTS[$index]}]=${NS}h$((index + 2))
  done
fi
make_network() {
  ip netns add "$NS-hub"
  ip -n "$NS-hub" link add br0 type bridge
  ip -n "$NS-hub" link set br0 up
  for host in "${HOSTS[@]}"; do
    ip netns add "$NS-$host"
    ip link add veth0 netns "$NS-$host" type veth peer name "${link_of[$host]}" netns "$NS-hub"
    ip -n "$NS-hub" link set "${link_of[$host]}" master br0
    ip -n "$NS-hub" link set "${link_of[$host]}" up
    ip -n "$NS-$host" addr add "${address_of[$host]}/24" dev veth0
    ip -n "$NS-$host" link set veth0 up
    ip -n "$NS-$host" link set lo up
  done
}
remove_network() {
  for host in "${HOSTS[@]}" hub; do ip netns del "$NS-$host" 2>/dev/null || true; done
}

declare -A pid_of
REDIS_HOST=$(addr redis)
# shellcheck source=scripts/soak-redis.sh
. scripts/soak-redis.sh

# Everyone comes from one address (the people's host): its room creations are not what is being tested.
start_node() { # N
  local i=$1
  in_host "node$i"
  "${W[@]}" "$BIN/chat-node" --host "$(addr "node$i")" --port $((BASE + i)) --http-port $((BASE + 100 + i)) \
    --ops-port $((BASE + 300 + i)) --irc-port $((BASE + 50 + i)) --node-id "node$i" --redis "$REDIS_URL" --proxy-protocol \
    --trusted-proxies "$(addr front)/32" \
    --ack-replicas 1 --ack-timeout-ms 500 --rate-limit 100 --rate-burst 100 --history-length 100000 \
    --room-creations-per-minute 100 \
    >>"$RUN_DIR/node$i.out" 2>>"$RUN_DIR/node$i.log" &
  pid_of[node$i]=$!
}
start_balancer() {
  in_host front
  "${W[@]}" "$BIN/chat-balancer" --host 127.0.0.1 --port "$BASE" --http-port $((BASE + 100)) --admin-port $((BASE + 200)) \
    --irc-port $((BASE + 50)) --drain-seconds 3 \
    --redis "$REDIS_URL" --send-proxy --max-connections-per-address 0 --connect-rate-per-address 0 \
    >>"$RUN_DIR/balancer.out" 2>>"$RUN_DIR/balancer.log" &
  pid_of[balancer]=$!
}
nodes_up() { on front curl -s --max-time 2 "127.0.0.1:$((BASE + 200))/nodes" 2>/dev/null | grep -o '"state":"up"' | wc -l || true; }
wait_for_nodes() {
  for _ in $(seq 150); do [ "$(nodes_up)" -ge 3 ] && return 0; sleep 0.1; done
  echo "soak: the balancer does not see 3 nodes up" >&2
}
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
  [ "$NETWORK" = namespaces ] && remove_network
  return 0
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM
if [ "$NETWORK" = namespaces ]; then make_network; fi

redis_start
for i in 1 2 3; do start_node "$i"; done
start_balancer
wait_for_nodes

echo "soak: $PEOPLE people in $ROOMS rooms for $DURATION s, a fault every $FAULT_EVERY s, on $NETWORK, Redis $REDIS; logs in $RUN_DIR"
in_host front
"${W[@]}" "$BIN/chat-bench" soak --target "127.0.0.1:$BASE" --irc-target "127.0.0.1:$((BASE + 50))" \
  --people "$PEOPLE" --rooms "$ROOMS" --duration "$DURATION" \
  --journal "$RUN_DIR/journal.jsonl" --faults "$RUN_DIR/faults.txt" >"$RUN_DIR/verdict.txt" 2>"$RUN_DIR/soak.log" &
soak=$!
pid_of[soak]=$soak
: >"$RUN_DIR/faults.txt"

echo "seconds,node3_rss_kb,node3_fds" >"$RUN_DIR/samples.csv"
sample() {
  local pid=${pid_of[node3]}
  echo "$((SECONDS - started)),$(ps -o rss= -p "$pid" | tr -d ' '),$(ls "/proc/$pid/fd" | wc -l)" >>"$RUN_DIR/samples.csv"
}
# The connect storm comes last in a round: on a busy machine it runs for 10 s or more past its 3 s of chat, and
# the faults after it in a short run would find no room left before the last 10 s.
faults=(kill-node term-node restart-balancer fail-primary)
[ "$REDIS" = cluster ] && faults+=(migrate-slot)
[ "$NETWORK" = namespaces ] && faults+=(cut-node slow-link)
faults+=(connect-storm)
if [ -n "${FAULTS:-}" ]; then read -r -a faults <<<"$FAULTS"; fi
for what in "${faults[@]}"; do
  case $what in
    kill-node | term-node | restart-balancer | fail-primary | connect-storm) ;;
    migrate-slot) [ "$REDIS" = cluster ] || { echo "soak: migrate-slot needs REDIS=cluster" >&2; exit 2; } ;;
    cut-node | slow-link) [ "$NETWORK" = namespaces ] || { echo "soak: $what needs NETWORK=namespaces" >&2; exit 2; } ;;
    *) echo "soak: no fault called $what" >&2; exit 2 ;;
  esac
done
# How long a fault lasts once begun: it must be over 10 s before the people stop, so the checker sees it settled.
lasts() { case $1 in cut-node) echo "$CUT_SECONDS" ;; slow-link | connect-storm) echo 10 ;; *) echo 0 ;; esac; }
# A token bucket on a cable, both ways: a link a tenth of what the node's traffic needs at its peaks.
slow() { # HOST add|del
  local shape=(root tbf rate 256kbit burst 16kbit latency 300ms)
  [ "$2" = del ] && shape=(root)
  ip netns exec "$NS-hub" tc qdisc "$2" dev "${link_of[$1]}" "${shape[@]}"
  ip netns exec "$NS-$1" tc qdisc "$2" dev veth0 "${shape[@]}"
}
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
  what=${faults[$((fault % ${#faults[@]}))]}
  [ "$SECONDS" -ge "$next_fault" ] && [ $((SECONDS - started + $(lasts "$what"))) -lt $((DURATION - 10)) ] || continue
  next_fault=$((SECONDS + FAULT_EVERY))
  node=$((fault / ${#faults[@]} % 2 + 1))
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
    fail-primary) redis_fail_primary "soak$((fault % ROOMS))" || status=1 ;;
    migrate-slot) redis_migrate_slot "soak$((fault % ROOMS))" || status=1 ;;
    connect-storm)
      # What a node's death does to the others, bigger: STORM_CLIENTS IRC clients through the balancer at once,
      # into 8 rooms of their own, chatting for 3 s; they must all get in and lose nothing, beside the soak's people.
      noted "$what $STORM_CLIENTS"
      on front "$BIN/chat-bench" run --mode irc --target "127.0.0.1:$((BASE + 50))" --clients "$STORM_CLIENTS" \
        --rooms 8 --senders 16 --rate 40 --duration 3 --connect-window "$STORM_CLIENTS" --fail-on-loss \
        >"$RUN_DIR/storm-$fault.txt" 2>&1 ||
        { echo "soak: the connect storm lost something (storm-$fault.txt)" >&2; status=1; } ;;
    cut-node)
      ip -n "$NS-hub" link set "${link_of[node$node]}" down; noted "$what node$node"
      sleep "$CUT_SECONDS"; ip -n "$NS-hub" link set "${link_of[node$node]}" up ;;
    slow-link)
      slow "node$node" add; noted "$what node$node"
      sleep 10; slow "node$node" del ;;
  esac
done
wait "$soak" || status=$?
unset 'pid_of[soak]'
sample

# Every person has gone: each node must have let go of every session (chat_session_objects back down to
# chat_connections, which counts only the balancer's probes now). One that keeps them grows all hour.
kept_sessions() { # N
  { on "node$1" curl -s --max-time 2 "127.0.0.1:$((BASE + 300 + $1))/metrics" || true; } |
    awk '/^chat_session_objects /{o=$2} /^chat_connections /{c=$2} END{print (o == "" ? "?" : o - c)}'
}
for i in 1 2 3; do
  kept=?
  for _ in $(seq 100); do kept=$(kept_sessions "$i"); [ "$kept" = 0 ] && break; sleep 0.1; done
  if [ "$kept" != 0 ]; then echo "soak: node$i kept $kept sessions after their connections closed" >&2; status=1; fi
done
# Memory: after the first quarter (warm-up: every room joined, every history read, a round of faults), node3's
# resident memory may move with the load, not grow with the hour. Checked on runs of ten minutes or more.
if [ "$DURATION" -ge 600 ]; then
  warm=$(awk -F, -v at=$((DURATION / 4)) 'NR > 1 && $1 >= at { print $2; exit }' "$RUN_DIR/samples.csv")
  last=$(tail -1 "$RUN_DIR/samples.csv" | cut -d, -f2)
  if [ -n "$warm" ] && [ "$last" -gt $((warm + warm / 5 + 10240)) ]; then
    echo "soak: node3's memory grew from ${warm} kB after warm-up to ${last} kB" >&2
    status=1
  fi
fi
cat "$RUN_DIR/verdict.txt"
echo "faults: $(wc -l <"$RUN_DIR/faults.txt"); node3 (never faulted) over the run, seconds,rss_kb,fds: $(sed -n 2p "$RUN_DIR/samples.csv") -> $(tail -1 "$RUN_DIR/samples.csv")"
echo "journal: $RUN_DIR/journal.jsonl"
exit "$status"
