#!/usr/bin/env bash
# Moves a Redis used by a version before hash-tagged keys (before Redis Cluster support) to the current key names,
# keeping what outlives a session and dropping what the nodes rebuild:
#   kept, renamed   chat:account:<name> -> chat:account:{<name>}   (registered names and their password hashes)
#                   chat:seen:<name>    -> chat:seen:{<name>}      (/seen)
#                   chat:room-activity, chat:room-looks -> ...:{:room-index}   (the room cap, look-alikes)
#   kept as they are  chat:history:{<room>}, chat:topic:{<room>}, chat:seen-index
#   deleted         claims, sessions, memberships, the room list, held direct messages, failed-login, registration
#                   and room-creation counters, node heartbeats and endpoints (all rebuilt, or windows of minutes)
# Run it with every node stopped (their sessions end with the old version), then start the new version:
#   scripts/migrate-redis-keys.sh -h redis.internal -p 6379 --user admin --pass ...   # redis-cli's own options
# Running it again changes nothing kept: keys already in the new form are left alone (a new-form key that exists
# wins over an old one); the transient keys go whatever their form, which is why the nodes must be stopped.
# To move to a Redis Cluster afterwards: `redis-cli --cluster import <member> --cluster-from <this Redis> --cluster-copy`.
set -euo pipefail

cli=(redis-cli "$@")
commands=$(mktemp)
trap 'rm -f "$commands"' EXIT

# Each key matching PATTERN whose name has no hash tag yet.
untagged() { "${cli[@]}" --scan --pattern "$1" | grep -v '{' || true; }
quote() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

renamed=0
deleted=0
rename() {  # OLD PREFIX: chat:account:alice -> chat:account:{alice}
  local key=$1 prefix=$2
  local name=${key#"$prefix"}
  [ -n "$name" ] || return 0
  printf 'RENAMENX %s %s\n' "$(quote "$key")" "$(quote "$prefix{$name}")" >>"$commands"
  printf 'DEL %s\n' "$(quote "$key")" >>"$commands"   # only still there when the new one existed already
  renamed=$((renamed + 1))
}
delete() { printf 'DEL %s\n' "$(quote "$1")" >>"$commands"; deleted=$((deleted + 1)); }

while IFS= read -r key; do [ -n "$key" ] && rename "$key" "chat:account:"; done < <(untagged 'chat:account:*')
while IFS= read -r key; do [ -n "$key" ] && rename "$key" "chat:seen:"; done < <(untagged 'chat:seen:*' | grep -vx 'chat:seen-index' || true)
for index in room-activity room-looks; do
  if [ "$("${cli[@]}" EXISTS "chat:$index")" = 1 ]; then
    printf 'RENAMENX %s %s\nDEL %s\n' "chat:$index" "\"chat:$index:{:room-index}\"" "chat:$index" >>"$commands"
    renamed=$((renamed + 1))
  fi
done
for pattern in 'chat:name:*' 'chat:session:*' 'chat:members:*' 'chat:held-directs:*' 'chat:login-failures:*' \
  'chat:registrations:*' 'chat:room-creations:*' 'chat:incarnation:*' 'chat:endpoint:*'; do
  while IFS= read -r key; do [ -n "$key" ] && delete "$key"; done < <("${cli[@]}" --scan --pattern "$pattern")
done
for key in chat:rooms chat:incarnations chat:endpoints; do delete "$key"; done

# One connection for every command, in order.
"${cli[@]}" <"$commands" >/dev/null
echo "migrated: $renamed keys renamed, $deleted deleted (history, topics and /seen's index kept as they are)"
