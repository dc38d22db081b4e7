#!/usr/bin/env bash
# Moves a Redis used by a version before hash-tagged keys (before Redis Cluster support) to the current key names,
# keeping what outlives a session and dropping what the nodes rebuild:
#   kept, renamed   chat:account:<name> -> chat:account:{<name>}   (registered names and their password hashes)
#                   chat:seen:<name>    -> chat:seen:{<name>}      (/seen)
#                   chat:room-activity, chat:room-looks -> ...:{:room-index}   (the room cap, look-alikes; merged
#                   into the new ones when those exist)
#   kept as they are  chat:history:{<room>}, chat:topic:{<room>}, chat:seen-index
#   deleted         claims, sessions, memberships, the room list, held direct messages, failed-login, registration
#                   and room-creation counters, node heartbeats and endpoints (rebuilt, or windows of minutes)
#
# Stop every node first (old or new version): it refuses to run while a node's heartbeat key exists, unless given
# --force. Then start the new version.
#   REDISCLI_AUTH=... scripts/migrate-redis-keys.sh -h redis.internal -p 6379 --user admin   # redis-cli's options
# It runs as one Lua script on the Redis (one Redis or a Sentinel's primary; not a cluster member: move to a
# cluster afterwards with `redis-cli --cluster import <member> --cluster-from <this Redis> --cluster-copy`).
# An account whose new name exists already (somebody registered the name under the new version before the
# migration) is not overwritten: both are kept, the old one under its old name, and listed, for an operator to
# decide. Running it again changes nothing kept.
set -euo pipefail

force=""
args=()
for arg in "$@"; do
  if [ "$arg" = --force ]; then force=force; else args+=("$arg"); fi
done
cli=(redis-cli "${args[@]}")

fail() { echo "migrate-redis-keys: $*" >&2; exit 1; }
# An error reply is the whole output (its first word says which); INFO itself starts with a section.
refused() { case $1 in ERR* | NOAUTH* | WRONGPASS* | NOPERM* | LOADING* | Could\ not\ connect*) return 0 ;; *) return 1 ;; esac; }
info=$("${cli[@]}" INFO 2>&1) || fail "cannot reach Redis: $info"
refused "$info" && fail "Redis refused: $(echo "$info" | head -1)"
grep -q '^cluster_enabled:1' <<<"$info" && fail "this is a Redis Cluster member: migrate the single Redis the old version used, then import it"
grep -q '^role:master' <<<"$info" || fail "this Redis is not a primary"

read -r -d '' script <<'LUA' || true
local force = ARGV[1] == 'force'
local function each(pattern, f)
  local cursor = '0'
  repeat
    local page = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = page[1]
    for _, key in ipairs(page[2]) do f(key) end
  until cursor == '0'
end
local running = {}
each('chat:incarnation:*', function(key)
  if string.sub(key, -6) ~= ':users' then table.insert(running, key) end
end)
if #running > 0 and not force then
  return redis.error_reply('ERR nodes are running (' .. running[1] .. ' is a heartbeat): stop them, or pass --force')
end
local renamed, deleted, conflicts = 0, 0, {}
local function retag(prefix)
  local keys = {}
  each(prefix .. '*', function(key) if not string.find(key, '{', 1, true) then table.insert(keys, key) end end)
  for _, key in ipairs(keys) do
    local name = string.sub(key, #prefix + 1)
    if name ~= '' and not string.find(name, ':', 1, true) then
      local new = prefix .. '{' .. name .. '}'
      if redis.call('EXISTS', new) == 0 then
        redis.call('RENAME', key, new)
        renamed = renamed + 1
      else
        table.insert(conflicts, key)
      end
    end
  end
end
retag('chat:account:')
retag('chat:seen:')
if redis.call('EXISTS', 'chat:room-activity') == 1 then
  local new = 'chat:room-activity:{:room-index}'
  if redis.call('EXISTS', new) == 1 then
    redis.call('ZUNIONSTORE', new, 2, new, 'chat:room-activity', 'AGGREGATE', 'MAX')
    redis.call('DEL', 'chat:room-activity')
  else
    redis.call('RENAME', 'chat:room-activity', new)
  end
  renamed = renamed + 1
end
if redis.call('EXISTS', 'chat:room-looks') == 1 then
  local new = 'chat:room-looks:{:room-index}'
  local old = redis.call('HGETALL', 'chat:room-looks')
  for i = 1, #old, 2 do redis.call('HSETNX', new, old[i], old[i + 1]) end
  redis.call('DEL', 'chat:room-looks')
  renamed = renamed + 1
end
local transient = {}
for _, pattern in ipairs({'chat:name:*', 'chat:session:*', 'chat:members:*', 'chat:held-directs:*',
    'chat:login-failures:*', 'chat:registrations:*', 'chat:room-creations:*', 'chat:new-rooms:*', 'chat:incarnation:*',
    'chat:endpoint:*'}) do
  each(pattern, function(key) table.insert(transient, key) end)
end
for _, key in ipairs({'chat:rooms', 'chat:incarnations', 'chat:endpoints'}) do table.insert(transient, key) end
for _, key in ipairs(transient) do deleted = deleted + redis.call('DEL', key) end
local result = {renamed, deleted}
for _, key in ipairs(conflicts) do table.insert(result, key) end
return result
LUA

reply=$("${cli[@]}" EVAL "$script" 0 "$force" 2>&1)
refused "$reply" && fail "$reply"
mapfile -t fields <<<"$reply"
echo "migrated: ${fields[0]} keys renamed, ${fields[1]} deleted (history, topics and /seen's index kept as they are)"
if [ "${#fields[@]}" -gt 2 ]; then
  echo "kept under their old names, because the new name exists already (registered again under the new version):"
  printf '  %s\n' "${fields[@]:2}"
fi
