#!/bin/sh
# Entrypoint of docker-compose.yml's Redis: starts the official image's entrypoint (which drops to the redis user)
# with the compose command's arguments plus the ACL users. Compose mounts this file into the redis container; the
# chat's image carries a copy, which Kubernetes' Redis pod takes from it (deploy/kubernetes/components/redis).
#
# Each password comes from a secret file (/run/secrets/redis-*-password, made by scripts/compose-secrets.sh).
# Redis is given only its SHA-256 (`#<hash>` in a `user` directive), so the passwords themselves are not in Redis's
# command line, its memory or `ACL LIST`, and nothing is written to disk: the users exist from the first moment
# Redis accepts connections, and a restart reads the files again (that is how a password is rotated).
#
# The rules are the ones docs/security.md gives and Tests/ChatBalancerTests/RedisACLTests.swift runs the chat with:
#   default      off: a client that does not AUTH can do nothing
#   chat-node    the chat's keys (chat:*) and channels (chat:*), every command but the dangerous ones (CONFIG,
#                FLUSHALL, FLUSHDB, DEBUG, KEYS, SHUTDOWN, ACL, MONITOR, ...); INFO is allowed again (it only
#                reports, and is how to look at Redis's memory as this user)
#   chat-balancer  reads the discovery keys (chat:endpoints, chat:endpoint:<id>) and removes dead nodes from the
#                set: SMEMBERS, GET, SREM, PING, SELECT on chat:endpoint* only; no channels; and INFO, which the
#                status page shows (memory, clients, commands/s, uptime: figures, never keys or values)
#   healthcheck  PING, nothing else (the compose health check)
# and, for a Redis Cluster member (docker-compose.redis-cluster.yml sets REDIS_CLUSTER=1):
#   replication  what a replica needs of its primary (PSYNC, REPLCONF, PING); replicas log in as it, its password
#                given to Redis in a config file only the redis user reads, not on the command line
#   cluster-admin  everything: redis-cli --cluster create, reshard and fix log in as it (CLUSTER, MIGRATE)
# The balancer's user also reads the slot map (CLUSTER SHARDS), which its Redis Cluster client routes by; on one
# Redis that command only says cluster support is off.
#
# REDIS_SECRETS_DIR (default /run/secrets) exists so that this script can be tried against a local redis-server.
set -eu

secrets=${REDIS_SECRETS_DIR:-/run/secrets}

# The SHA-256 of a password file's contents without its trailing newline(s): `$(cat)` drops them, exactly as
# chat-redis-auth does when it puts the password in the URL, so both sides agree on the password.
password_hash() {
  file="$secrets/redis-$1-password"
  if [ ! -r "$file" ] || [ -z "$(cat "$file")" ]; then
    echo "redis: no password in $file: run scripts/compose-secrets.sh on the host, then docker compose up again" >&2
    exit 78
  fi
  printf '%s' "$(cat "$file")" | sha256sum | cut -d ' ' -f 1
}

node=$(password_hash node)
balancer=$(password_hash balancer)
healthcheck=$(password_hash healthcheck)

if [ "${REDIS_CLUSTER:-}" = 1 ]; then
  replication=$(password_hash replication)
  admin=$(password_hash cluster-admin)
  # masterauth must be the password itself: it goes into a config file (the first argument redis-server takes)
  # that only the redis user can read, rather than onto the command line, which every process can see.
  conf=$(mktemp -d)/replication.conf
  (umask 077 && printf 'masteruser replication\nmasterauth %s\n' "$(cat "$secrets/redis-replication-password")" >"$conf")
  chown -R redis:redis "$(dirname "$conf")" 2>/dev/null || true
  [ "$1" = redis-server ] && shift
  # Members are found by their compose service name (REDIS_ANNOUNCE_HOSTNAME), which outlives a container's
  # address: the slot map, and every MOVED, name the host.
  exec docker-entrypoint.sh redis-server "$conf" "$@" \
    ${REDIS_ANNOUNCE_HOSTNAME:+--cluster-announce-hostname "$REDIS_ANNOUNCE_HOSTNAME" --cluster-preferred-endpoint-type hostname} \
    --user default off \
    --user chat-node on "#$node" '~chat:*' '&chat:*' +@all -@dangerous +info \
    --user chat-balancer on "#$balancer" '~chat:endpoint*' '~chat:network-bans' resetchannels +smembers +get +hgetall +srem +ping +select +info +cluster\|shards \
    --user healthcheck on "#$healthcheck" +ping \
    --user replication on "#$replication" +psync +sync +replconf +ping \
    --user cluster-admin on "#$admin" '~*' '&*' +@all
fi

# `--user` on the command line is the redis.conf `user` directive; each rule is its own argument.
exec docker-entrypoint.sh "$@" \
  --user default off \
  --user chat-node on "#$node" '~chat:*' '&chat:*' +@all -@dangerous +info \
  --user chat-balancer on "#$balancer" '~chat:endpoint*' '~chat:network-bans' resetchannels +smembers +get +hgetall +srem +ping +select +info +cluster\|shards \
  --user healthcheck on "#$healthcheck" +ping
