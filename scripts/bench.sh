#!/usr/bin/env bash
# The standard benchmark sweep. Every run gets a fresh local cluster (its own Redis, 3 nodes, chat-balancer and
# HAProxy in front of the same nodes); chat-bench records each run as a JSON line; at the end `chat-bench report`
# rewrites the generated part of docs/benchmarks.md (medians of RUNS runs) and its plots in docs/bench/. The raw
# records are kept in docs/bench/records.jsonl; a partial sweep (ONLY=...) replaces only the groups it measured.
#   scripts/bench.sh                 # the full sweep, 3 runs of everything (about 20 minutes on 2 cores)
#   QUICK=1 scripts/bench.sh         # one short run of a smaller sweep, to check the machinery (about 3 minutes)
#   ONLY="clients storm" scripts/bench.sh   # some parts only: clients rate storm flood proxies logins tls irc acks
#                                           # archive (the flood with every node archiving) and search (5 million
#                                           # messages in 1,000 rooms, then searches timed): not in the default sweep
#   ARCHIVE=1 ONLY=clients scripts/bench.sh # every node archives into a PostgreSQL of the sweep's own
# Loopback only; every run is bounded by --duration, and the cluster is stopped after each run and on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh

QUICK=${QUICK:-0}
RUNS=${RUNS:-$([ "$QUICK" = 1 ] && echo 1 || echo 3)}
DURATION=${DURATION:-$([ "$QUICK" = 1 ] && echo 2 || echo 5)}
ONLY=${ONLY:-clients rate storm flood proxies logins tls irc acks}
REDIS_PORT=${REDIS_PORT:-6392}; BASE=${BASE:-7800}
RUN_DIR=${RUN_DIR:-$PWD/run/bench-$(date +%Y%m%d-%H%M%S)}
RECORDS=$RUN_DIR/records.jsonl
DOCUMENT=${DOCUMENT:-docs/benchmarks.md}
ARCHIVE=${ARCHIVE:-0}
PG_PORT=${PG_PORT:-5434}

scripts/install-deps.sh
sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v gnuplot >/dev/null 2>&1 || missing+=(gnuplot-nox)
command -v ngircd >/dev/null 2>&1 || [ -x /usr/sbin/ngircd ] || missing+=(ngircd)
if [ ${#missing[@]} -gt 0 ]; then $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; fi
echo "building (release)..."
# One build of every product, as in scripts/cluster.sh: per-product builds rebuilt shared modules each time.
swift build -c release >/dev/null
BIN=$(swift build -c release --show-bin-path)
# 8,000 clients hold 8,000 sockets in chat-bench and 16,000 in the balancer.
ulimit -n "$(ulimit -Hn)"
mkdir -p "$RUN_DIR"
echo "runs: $RUNS, $DURATION s of sending each; logs and records in $RUN_DIR"
# The balancer's TLS port (BASE + 60) uses a development certificate made for this sweep.
scripts/dev-cert.sh "$RUN_DIR/tls" bench 1

pids=()
measure=""
nodes=()
# REPLICA=1 start_cluster DIR: Redis with one replica (on REDIS_PORT + 1), ready before the nodes start; NODE_ARGS
# go to every node.
REPLICA=0
NODE_ARGS=()
# --archive for every node, when the sweep runs with the archive on; each cluster then starts with an empty one.
ARCHIVE_ARGS=()
archive_url="postgres://chat@127.0.0.1:$PG_PORT/chat?sslmode=disable"
start_cluster() {
  local dir=$1
  mkdir -p "$dir"
  pids=()
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
  pids+=($!)
  measure="redis=$!"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  if [ "$REPLICA" = 1 ]; then
    redis-server --port $((REDIS_PORT + 1)) --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
      --dbfilename replica.rdb --replicaof 127.0.0.1 "$REDIS_PORT" --repl-diskless-sync-delay 0 \
      >"$dir/replica.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
      redis-cli -p $((REDIS_PORT + 1)) info replication 2>/dev/null | grep -q master_link_status:up && break
      sleep 0.1
    done
  fi
  if [ ${#ARCHIVE_ARGS[@]} -gt 0 ]; then
    psql -h 127.0.0.1 -p "$PG_PORT" -U chat -d postgres -qc 'DROP DATABASE IF EXISTS chat' -c 'CREATE DATABASE chat'
  fi
  nodes=()
  for i in 1 2 3; do
    # No rate limits: the benchmark's senders send more than a person would, and its clients (all from
    # 127.0.0.1) create a room each in the flood, register names and log in to them together (every password
    # check in flight counts against the address until it succeeds). The balancer's per-address limit is off
    # for the same reason.
    "$BIN/chat-node" --host 127.0.0.1 --port $((BASE + i)) --http-port $((BASE + 100 + i)) --ops-port $((BASE + 300 + i)) --node-id "node$i" \
      --redis "redis://127.0.0.1:$REDIS_PORT" --proxy-protocol --rate-limit 1000000 --rate-burst 1000000 \
      --room-creations-per-minute 1000000 --password-checks-per-address 1000 --registrations-per-hour 1000000 \
      --login-failures 1000000,1000000 --irc-port $((BASE + 400 + i)) ${NODE_ARGS[@]+"${NODE_ARGS[@]}"} \
      ${ARCHIVE_ARGS[@]+"${ARCHIVE_ARGS[@]}"} \
      --log-level warning >"$dir/node$i.out" 2>"$dir/node$i.log" &
    pids+=($!)
    measure="$measure,node$i=$!"
    nodes+=("127.0.0.1:$((BASE + i))")
  done
  "$BIN/chat-balancer" --host 127.0.0.1 --port "$BASE" --http-port $((BASE + 100)) --admin-port $((BASE + 200)) \
    --redis "redis://127.0.0.1:$REDIS_PORT" --send-proxy --max-clients 20000 --drain-seconds 1 --log-level warning \
    --max-connections-per-address 0 --connect-rate-per-address 0 --irc-port $((BASE + 80)) \
    --tls-port $((BASE + 60)) --tls-cert "$RUN_DIR/tls/bench-chain.pem" --tls-key "$RUN_DIR/tls/bench-server.key" \
    >"$dir/balancer.out" 2>"$dir/balancer.log" &
  pids+=($!)
  measure="$measure,balancer=$!"
  cat >"$dir/haproxy.cfg" <<CFG
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
frontend irc
    bind 127.0.0.1:$((BASE + 51))
    default_backend irc-nodes
backend irc-nodes
    balance roundrobin
$(for i in 1 2 3; do echo "    server node$i 127.0.0.1:$((BASE + 400 + i)) send-proxy"; done)
CFG
  haproxy -D -f "$dir/haproxy.cfg" -p "$dir/haproxy.pid"
  measure="$measure,haproxy=$(cat "$dir/haproxy.pid")"
  for _ in $(seq 100); do
    up=$(curl -s "127.0.0.1:$((BASE + 200))/nodes" 2>/dev/null | grep -o '"state":"up"' | wc -l || true)
    [ "$up" -ge 3 ] && break
    sleep 0.1
  done
  [ "$up" -ge 3 ] || { echo "the balancer did not see 3 nodes up; logs in $dir" >&2; exit 1; }
}
stop_cluster() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
  for file in "$RUN_DIR"/*/haproxy.pid; do [ -f "$file" ] && kill "$(cat "$file")" 2>/dev/null && rm -f "$file"; done
  # The nodes' sockets linger briefly; Redis restarts on the same port for the next run.
  sleep 1
}
trap 'stop_cluster; stop_ngircd; stop_postgres' EXIT

# archive_caught_up FILE: after a run with the archive, waits until the archive holds every message Redis
# acknowledged (the streams' entries-added), or stops growing (what it lacks then is gaps), and appends to FILE
# what it holds and how long after the flood it caught up.
archive_caught_up() {
  local file=$1 added=0 key archived=0 last=-1 still=0 started
  for key in $(redis-cli -p "$REDIS_PORT" --scan --pattern 'chat:history:*'); do
    added=$((added + $(redis-cli -p "$REDIS_PORT" xinfo stream "$key" | awk 'previous == "entries-added" { print; exit } { previous = $0 }')))
  done
  started=$(date +%s%N)
  while [ $(( ($(date +%s%N) - started) / 1000000000 )) -lt 120 ]; do
    archived=$(psql -h 127.0.0.1 -p "$PG_PORT" -U chat -d chat -tAc 'SELECT count(*) FROM chat_messages')
    [ "$archived" -ge "$added" ] && break
    if [ "$archived" = "$last" ]; then still=$((still + 1)); [ "$still" -ge 30 ] && break; else still=0; fi
    last=$archived
    sleep 0.1
  done
  local gaps
  gaps=$(psql -h 127.0.0.1 -p "$PG_PORT" -U chat -d chat -tAc 'SELECT count(*) FROM chat_archive_gaps')
  echo "acknowledged $added archived $archived gaps $gaps caught-up-after-ms $(( ($(date +%s%N) - started) / 1000000 ))" | tee -a "$file"
}

# The C reference for IRC: Debian's ngircd, one process, with its limits opened as the nodes' are (no flood
# penalties, no per-address cap, no DNS or ident lookups). It serves the same chat-bench IRC clients.
ngircd_pid=""
start_ngircd() {
  local dir=$1
  mkdir -p "$dir"
  cat >"$dir/ngircd.conf" <<CFG
[Global]
    Name = bench.ngircd
    Info = reference server for chat-bench
    Listen = 127.0.0.1
    Ports = $((BASE + 70))
    MotdPhrase = bench
[Limits]
    MaxConnections = 0
    MaxConnectionsIP = 0
    MaxJoins = 0
    MaxNickLength = 32
    MaxPenaltyTime = 0
    PingTimeout = 120
[Options]
    DNS = no
    Ident = no
    PAM = no
CFG
  /usr/sbin/ngircd --nodaemon --config "$dir/ngircd.conf" >"$dir/ngircd.log" 2>&1 &
  ngircd_pid=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$((BASE + 70))) 2>/dev/null && break; sleep 0.1; done
}
stop_ngircd() {
  [ -n "$ngircd_pid" ] && kill -TERM "$ngircd_pid" 2>/dev/null && wait "$ngircd_pid" 2>/dev/null || true
  ngircd_pid=""
}

# bench GROUP TARGET RUN ARGS...: one chat-bench run, recorded.
bench() {
  local group=$1 target=$2 run=$3
  shift 3
  local where
  case $target in
    direct) where=(--target "$(IFS=,; echo "${nodes[*]}")" --proxy-header) ;;
    node1 | async-flood | acked-flood) where=(--target "${nodes[0]}" --proxy-header) ;;
    chat-balancer | guest | registered | async-fanout | acked-fanout) where=(--target "127.0.0.1:$BASE") ;;
    chat-balancer-tls) where=(--target "127.0.0.1:$((BASE + 60))" --tls-ca-file "$RUN_DIR/tls/bench-ca.pem") ;;
    haproxy) where=(--target "127.0.0.1:$((BASE + 50))") ;;
    node1-irc) where=(--target "127.0.0.1:$((BASE + 401))" --proxy-header --mode irc) ;;
    balancer-irc) where=(--target "127.0.0.1:$((BASE + 80))" --mode irc) ;;
    haproxy-irc) where=(--target "127.0.0.1:$((BASE + 51))" --mode irc) ;;
    ngircd) where=(--target "127.0.0.1:$((BASE + 70))" --mode irc) ;;
  esac
  echo "== $group, $target, run $run: $*"
  local processes=$measure
  [ "$target" = ngircd ] && processes="ngircd=$ngircd_pid"
  "$BIN/chat-bench" run "${where[@]}" "$@" --measure "$processes" \
    --record "$RECORDS" --group "$group" --target-name "$target" --run-number "$run" 2>>"$RUN_DIR/bench.log" \
    | sed -n '3p'
}

# fresh NAME GROUP TARGET RUN ARGS...: a run on a cluster of its own.
fresh() {
  local name=$1
  shift
  start_cluster "$RUN_DIR/$name"
  bench "$@"
  stop_cluster
}

wants() { [[ " $ONLY " == *" $1 "* ]]; }

if [ "$ARCHIVE" = 1 ] || wants archive || wants search; then
  start_postgres "$RUN_DIR/postgres" "$PG_PORT" "$RUN_DIR" postgres
  if [ "$ARCHIVE" = 1 ]; then ARCHIVE_ARGS=(--archive "$archive_url"); fi
fi

if wants search; then
  # Search over an archive of SEARCH_MESSAGES (5 million) generated messages in 1,000 rooms, filled through the
  # archiver's own write (its rate is the archive's write throughput), then each kind of search timed
  # SEARCH_QUERIES times: chat-bench archive-search prints the table (docs/benchmarks.md, "The archive").
  psql -h 127.0.0.1 -p "$PG_PORT" -U chat -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'search'" | grep -q 1 \
    || psql -h 127.0.0.1 -p "$PG_PORT" -U chat -d postgres -qc 'CREATE DATABASE search'
  "$BIN/chat-bench" archive-search --archive "postgres://chat@127.0.0.1:$PG_PORT/search?sslmode=disable" \
    --messages "${SEARCH_MESSAGES:-5000000}" --rooms 1000 --queries "${SEARCH_QUERIES:-100}" | tee "$RUN_DIR/search.md"
fi

for run in $(seq "$RUNS"); do
  if wants clients; then
    # Latency against clients: about one message per second per sender; the 8,000 are in 8 rooms of 1,000, and
    # 1,000 in one room at 400 msgs/s get the same deliveries a second (400,000) for comparison.
    sweep=("1 1 1 10" "10 1 10 100" "100 1 10 100" "1000 1 100 1000" "1000 1 100 400" "8000 8 400 400")
    [ "$QUICK" = 1 ] && sweep=("1 1 1 10" "100 1 10 100" "1000 1 100 1000")
    for point in "${sweep[@]}"; do
      read -r clients rooms senders rate <<<"$point"
      fresh "clients-$clients-$run" clients chat-balancer "$run" --clients "$clients" --rooms "$rooms" \
        --senders "$senders" --rate "$rate" --duration "$DURATION"
    done
  fi
  if wants rate; then
    # Throughput against offered load, to saturation: 1,000 clients in one room.
    rates=(250 500 1000 1500 2000)
    [ "$QUICK" = 1 ] && rates=(500 2000)
    for rate in "${rates[@]}"; do
      fresh "rate-$rate-$run" rate chat-balancer "$run" --clients 1000 --rooms 1 --senders 100 --rate "$rate" \
        --duration "$DURATION"
    done
  fi
  if wants storm; then
    clients=$([ "$QUICK" = 1 ] && echo 2000 || echo 8000)
    fresh "storm-$run" storm chat-balancer "$run" --scenario connect-storm --clients "$clients" --connect-window 512
  fi
  if wants flood; then
    # Small rooms (2 people), straight to one node: what one node gets into Redis.
    fresh "flood-$run" flood node1 "$run" --scenario flood --clients 200 --rooms 100 --flood-window 16 \
      --duration "$DURATION"
  fi
  if wants archive; then
    # The flood with every node archiving: what the nodes acknowledged against what the archive holds once it
    # caught up, and how long after the flood that was (docs/benchmarks.md, "The archive").
    ARCHIVE_ARGS=(--archive "$archive_url")
    start_cluster "$RUN_DIR/archive-$run"
    bench archive node1 "$run" --scenario flood --clients 200 --rooms 100 --flood-window 16 --duration "$DURATION"
    archive_caught_up "$RUN_DIR/archive.txt"
    stop_cluster
    if [ "$ARCHIVE" != 1 ]; then ARCHIVE_ARGS=(); fi
  fi
  if wants logins; then
    # Guests against registered names (scrypt at its default cost): a connect storm each, on a cluster each.
    clients=$([ "$QUICK" = 1 ] && echo 60 || echo 300)
    fresh "logins-guest-$run" logins guest "$run" --scenario connect-storm --clients "$clients" --connect-window 64
    fresh "logins-registered-$run" logins registered "$run" --scenario connect-storm --clients "$clients" \
      --connect-window 64 --password bench-password-1 --register-first
  fi
  if wants tls; then
    # The 1,000-client fan-out through the balancer's plain port and its TLS port, on the same cluster.
    start_cluster "$RUN_DIR/tls-$run"
    for target in chat-balancer chat-balancer-tls; do
      bench tls "$target" "$run" --clients 1000 --rooms 1 --senders 100 --rate 1000 --duration "$DURATION"
    done
    stop_cluster
  fi
  if wants irc; then
    # IRC fan-out, 1,000 clients in one room: one node's IRC port (with Redis between sender and receivers)
    # against ngircd, in the same run; many slow senders (100) and few fast ones (10, as bots and bridges are) at
    # the same total rate; and at 100 msgs/s the whole cluster (3 nodes behind chat-balancer's IRC port, and
    # behind HAProxy's for reference: what any proxy costs on this machine).
    for load in "100 100" "100 1000" "10 100" "10 1000"; do
      read -r senders rate <<<"$load"
      fresh "irc-node-$senders-$rate-$run" irc node1-irc "$run" --clients 1000 --rooms 1 --senders "$senders" \
        --rate "$rate" --duration "$DURATION"
      if [ "$load" = "100 100" ]; then
        fresh "irc-cluster-$rate-$run" irc balancer-irc "$run" --clients 1000 --rooms 1 --senders "$senders" \
          --rate "$rate" --duration "$DURATION"
        fresh "irc-cluster-haproxy-$rate-$run" irc haproxy-irc "$run" --clients 1000 --rooms 1 --senders "$senders" \
          --rate "$rate" --duration "$DURATION"
      fi
      start_ngircd "$RUN_DIR/irc-ngircd-$senders-$rate-$run"
      bench irc ngircd "$run" --clients 1000 --rooms 1 --senders "$senders" --rate "$rate" --duration "$DURATION"
      stop_ngircd
    done
  fi
  if wants acks; then
    # What --ack-replicas costs: the same loads on Redis with one replica, acknowledged once the primary has a
    # message (the default) and once the replica has it too; the fan-out through the balancer, and the flood.
    REPLICA=1
    for mode in async acked; do
      NODE_ARGS=()
      [ "$mode" = acked ] && NODE_ARGS=(--ack-replicas 1 --ack-timeout-ms 1000)
      fresh "acks-$mode-fanout-$run" acks "$mode-fanout" "$run" --clients 1000 --rooms 1 --senders 100 --rate 1000 \
        --duration "$DURATION"
      fresh "acks-$mode-flood-$run" acks "$mode-flood" "$run" --scenario flood --clients 200 --rooms 100 \
        --flood-window 16 --duration "$DURATION"
    done
    REPLICA=0
    NODE_ARGS=()
  fi
  if wants proxies; then
    loads=("100 10 100" "1000 100 1000")
    for load in "${loads[@]}"; do
      read -r clients senders rate <<<"$load"
      start_cluster "$RUN_DIR/proxies-$clients-$run"
      for target in direct chat-balancer haproxy; do
        bench proxies "$target" "$run" --clients "$clients" --rooms 1 --senders "$senders" --rate "$rate" \
          --duration "$DURATION"
      done
      stop_cluster
    done
  fi
done

redis_version=$(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2)
haproxy_version=$(haproxy -v | head -1 | awk '{print $3}')
ngircd_version=$(/usr/sbin/ngircd --version 2>/dev/null | head -1 | awk '{print $2}' | cut -d- -f1)
"$BIN/chat-bench" report --records docs/bench/records.jsonl --records "$RECORDS" --write-records docs/bench/records.jsonl \
  --document "$DOCUMENT" --plots bench \
  --setup "Redis $redis_version, HAProxy $haproxy_version (TCP mode, round-robin, send-proxy, 2 threads), ngIRCd $ngircd_version (no flood penalties), $(swift --version 2>/dev/null | head -1 | sed 's/ (.*//')." \
  --setup "Started by scripts/bench.sh: 3 chat-node (--proxy-protocol, no rate limit), chat-balancer (--redis --send-proxy, TLS on a second port with an EC P-256 certificate), all release builds; RUNS=$RUNS, $DURATION s of sending per run." \
  --setup "Raw records of every run: docs/bench/records.jsonl (a partial sweep replaces only the groups it measured)."
echo "records: $RECORDS"
