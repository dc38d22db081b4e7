# Redis for the soak (sourced by scripts/soak.sh, which defines on, in_host, stop_process, noted, pid_of,
# RUN_DIR, REDIS_HOST and BASE): REDIS=sentinel (a primary, a replica, three sentinels) or REDIS=cluster (three
# primaries, a replica each). Each gives redis_start (sets REDIS_URL) and redis_fail_primary; the cluster also
# redis_migrate_slot. Every fault returns non-zero, saying why, when it could not be carried out.

DATA_PORTS=($((BASE + 10)) $((BASE + 11)))
[ "$REDIS" = cluster ] && DATA_PORTS=($((BASE + 10)) $((BASE + 11)) $((BASE + 12)) $((BASE + 13)) $((BASE + 14)) $((BASE + 15)))
SENTINEL_PORTS=($((BASE + 20)) $((BASE + 21)) $((BASE + 22)))

cli() { # PORT ARGS...
  local port=$1
  shift
  on redis redis-cli -h "$REDIS_HOST" -p "$port" "$@"
}

start_data() { # PORT [PRIMARY_PORT]
  local port=$1 cluster=()
  [ "$REDIS" = cluster ] && cluster=(--cluster-enabled yes --cluster-config-file "$RUN_DIR/nodes-$port.conf"
    --cluster-node-timeout 2000)
  in_host redis
  "${W[@]}" redis-server --port "$port" --bind "$REDIS_HOST" --protected-mode no --save "" --appendonly no \
    --dir "$RUN_DIR" --dbfilename "dump-$port.rdb" --repl-diskless-sync-delay 0 "${cluster[@]}" \
    ${2:+--replicaof $REDIS_HOST $2} >>"$RUN_DIR/redis-$port.log" 2>&1 &
  pid_of[redis$port]=$!
  for _ in $(seq 50); do cli "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
}

# --- Sentinel ---

# down-after 2 s: at 1 s, a freshly promoted primary busy syncing its new replica while two cores were saturated
# was taken for dead and failed back within 2 s (harmless to the chat, but it is not the fault being injected).
start_sentinel() { # PORT
  cat >"$RUN_DIR/sentinel-$1.conf" <<CONF
port $1
bind $REDIS_HOST
protected-mode no
dir $RUN_DIR
sentinel monitor chat $REDIS_HOST ${DATA_PORTS[0]} 2
sentinel down-after-milliseconds chat 2000
sentinel failover-timeout chat 3000
CONF
  in_host redis
  "${W[@]}" redis-server "$RUN_DIR/sentinel-$1.conf" --sentinel >>"$RUN_DIR/sentinel-$1.log" 2>&1 &
  pid_of[sentinel$1]=$!
}
sentinel_primary() { cli "${SENTINEL_PORTS[0]}" sentinel get-master-addr-by-name chat 2>/dev/null | tail -1; }

# --- Cluster ---

# "ID PORT" of the live primary serving SLOT, as the first member that answers sees it.
slot_owner() { # SLOT
  local port nodes
  for port in "${DATA_PORTS[@]}"; do
    nodes=$(cli "$port" cluster nodes 2>/dev/null) || continue
    [ -n "$nodes" ] || continue
    awk -v slot="$1" '$3 ~ /master/ && $3 !~ /fail/ {
      for (i = 9; i <= NF; i++) {
        if ($i ~ /^\[/) continue
        n = split($i, range, "-"); if (n == 1) range[2] = range[1]
        if (slot + 0 >= range[1] + 0 && slot + 0 <= range[2] + 0) { split($2, address, "[:@]"); print $1, address[2]; exit }
      }
    }' <<<"$nodes"
    return 0
  done
}
# The slot of a room's keys (they share its hash tag).
room_slot() { # ROOM
  local port
  for port in "${DATA_PORTS[@]}"; do cli "$port" cluster keyslot "chat:history:{$1}" 2>/dev/null && return 0; done
}
cluster_ready() {
  local port
  for port in "${DATA_PORTS[@]}"; do
    cli "$port" cluster info 2>/dev/null | grep -q cluster_state:ok || return 1
    if cli "$port" info replication 2>/dev/null | grep -q role:slave; then
      cli "$port" info replication | grep -q master_link_status:up || return 1
    fi
  done
}

# --- What soak.sh calls ---

redis_start() {
  if [ "$REDIS" = cluster ]; then
    local port seeds=()
    for port in "${DATA_PORTS[@]}"; do start_data "$port"; seeds+=("$REDIS_HOST:$port"); done
    on redis redis-cli --cluster create "${seeds[@]}" --cluster-replicas 1 --cluster-yes >"$RUN_DIR/cluster-create.log" 2>&1
    for _ in $(seq 200); do cluster_ready && break; sleep 0.1; done
    REDIS_URL="redis-cluster://$(IFS=,; echo "${seeds[*]:0:3}")"
  else
    start_data "${DATA_PORTS[0]}"
    start_data "${DATA_PORTS[1]}" "${DATA_PORTS[0]}"
    for _ in $(seq 100); do
      cli "${DATA_PORTS[1]}" info replication | grep -q master_link_status:up && break
      sleep 0.1
    done
    local sentinel sentinels=()
    for sentinel in "${SENTINEL_PORTS[@]}"; do start_sentinel "$sentinel"; sentinels+=("$REDIS_HOST:$sentinel"); done
    for _ in $(seq 100); do
      [ "$(cli "${SENTINEL_PORTS[0]}" sentinel master chat 2>/dev/null | grep -A1 num-other-sentinels | tail -1)" = 2 ] && break
      sleep 0.2
    done
    REDIS_URL="redis-sentinel://$(IFS=,; echo "${sentinels[*]}")/chat"
  fi
}

# Kills a primary with kill -9 (on a cluster, the one serving ROOM); once a replica is promoted, the old one comes
# back as its replica (a cluster member rejoins from its nodes.conf and finds itself demoted).
redis_fail_primary() { # ROOM
  local old new slot
  if [ "$REDIS" = cluster ]; then
    slot=$(room_slot "$1")
    old=$(slot_owner "$slot" | cut -d' ' -f2)
  else
    old=$(sentinel_primary)
  fi
  if [ -z "$old" ] || [ -z "${pid_of[redis$old]:-}" ]; then
    echo "soak: no primary this script started serves $1 ($old)" >&2
    return 1
  fi
  stop_process KILL "${pid_of[redis$old]}"
  noted "fail-primary $old"
  for _ in $(seq 300); do
    if [ "$REDIS" = cluster ]; then new=$(slot_owner "$slot" | cut -d' ' -f2); else new=$(sentinel_primary); fi
    [ -n "$new" ] && [ "$new" != "$old" ] && break
    sleep 0.1
  done
  if [ -z "$new" ] || [ "$new" = "$old" ]; then
    echo "soak: no replica was promoted within 30 s" >&2
    start_data "$old"
    return 1
  fi
  if [ "$REDIS" = cluster ]; then start_data "$old"; else start_data "$old" "$new"; fi
}

# Moves the slot of ROOM's keys to another primary while people chat in it: the steps `redis-cli --cluster
# reshard` takes for one slot (importing, migrating, MIGRATE in batches, then the new owner told to everyone).
redis_migrate_slot() { # ROOM
  local slot from from_port to to_port keys port
  slot=$(room_slot "$1")
  read -r from from_port <<<"$(slot_owner "$slot")"
  to=$(cli "$from_port" cluster nodes | awk -v from="$from" '$3 ~ /master/ && $3 !~ /fail/ && $1 != from { print $1, $2; exit }')
  to_port=$(echo "$to" | awk '{ split($2, address, "[:@]"); print address[2] }')
  to=${to%% *}
  if [ -z "$from" ] || [ -z "$to" ]; then
    echo "soak: no two live primaries to move slot $slot of $1 between" >&2
    return 1
  fi
  cli "$to_port" cluster setslot "$slot" importing "$from" >/dev/null
  cli "$from_port" cluster setslot "$slot" migrating "$to" >/dev/null
  noted "migrate-slot $1 $slot $from_port->$to_port"
  while keys=$(cli "$from_port" cluster getkeysinslot "$slot" 100) && [ -n "$keys" ]; do
    # shellcheck disable=SC2086 # one key per word
    cli "$from_port" migrate "$REDIS_HOST" "$to_port" "" 0 5000 KEYS $keys >/dev/null
  done
  for port in "${DATA_PORTS[@]}"; do cli "$port" cluster setslot "$slot" node "$to" >/dev/null 2>&1 || true; done
}
