#!/bin/sh
# chat-redis-auth PROGRAM [ARGUMENTS...]: runs chat-node or chat-balancer as a Redis ACL user whose password is in a
# file. docker-compose.yml uses it so that no password is in the compose file or in a container's environment as
# Docker records it (`docker inspect`): the password is a secret file mounted at /run/secrets/.
#
#   REDIS_USER            the ACL user (chat-node, chat-balancer)
#   REDIS_PASSWORD_FILE   the file holding its password (a trailing newline is not part of it)
#
#   ARCHIVE_PASSWORD_FILE (optional) the file holding the archive's PostgreSQL password
#
# CHAT_REDIS_URL and BALANCER_REDIS_URL (whichever are set) become redis://USER:PASSWORD@<the rest of the URL>,
# and CHAT_ARCHIVE (postgres://USER@host...) postgres://USER:PASSWORD@host..., percent-escaped, in this process's
# environment only; then the program replaces this shell (it stays PID 1 and gets SIGTERM itself). The programs
# never print a password (their logs show redis://USER@host:port/db, postgres://USER:***@host:port/db).
set -eu

user=${REDIS_USER:?REDIS_USER names the Redis ACL user}
file=${REDIS_PASSWORD_FILE:?REDIS_PASSWORD_FILE names the file with its password}
if [ ! -r "$file" ] || [ -z "$(cat "$file")" ]; then
  echo "chat-redis-auth: no password in $file: run scripts/compose-secrets.sh on the host, then docker compose up again" >&2
  exit 78
fi
password=$(cat "$file")

# Every byte as %XX: a password may hold anything (':' and '@' included) and the programs decode it.
escape() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F | sed 's/../%&/g'; }

found=
for variable in CHAT_REDIS_URL BALANCER_REDIS_URL; do
  eval "url=\${$variable:-}"
  [ -n "$url" ] || continue
  # redis://host:port, redis-cluster://host:port,host:port (the credentials then go to every member), or
  # redis-sentinel://host:port,host:port/service.
  case $url in
    *@*) echo "chat-redis-auth: $variable already holds credentials; give it only redis://host:port" >&2; exit 78 ;;
    redis://* | rediss://* | redis-cluster://* | rediss-cluster://* | redis-sentinel://* | rediss-sentinel://*) ;;
    *) echo "chat-redis-auth: $variable must start with redis:// (or rediss://, redis-cluster://, redis-sentinel://, with an s for TLS)" >&2; exit 78 ;;
  esac
  scheme=${url%%://*}
  export "$variable=$scheme://$(escape "$user"):$(escape "$password")@${url#*://}"
  found=1
done
if [ -z "$found" ]; then
  echo "chat-redis-auth: neither CHAT_REDIS_URL nor BALANCER_REDIS_URL is set" >&2
  exit 78
fi
if [ -n "${ARCHIVE_PASSWORD_FILE:-}" ] && [ -n "${CHAT_ARCHIVE:-}" ]; then
  if [ ! -r "$ARCHIVE_PASSWORD_FILE" ] || [ -z "$(cat "$ARCHIVE_PASSWORD_FILE")" ]; then
    echo "chat-redis-auth: no password in $ARCHIVE_PASSWORD_FILE: run scripts/compose-secrets.sh on the host, then docker compose up again" >&2
    exit 78
  fi
  case $CHAT_ARCHIVE in
    postgres://*@* | postgresql://*@*) ;;
    *) echo "chat-redis-auth: CHAT_ARCHIVE must be postgres://USER@host:port/database" >&2; exit 78 ;;
  esac
  rest=${CHAT_ARCHIVE#*://}
  case ${rest%%@*} in
    *:*) echo "chat-redis-auth: CHAT_ARCHIVE already holds a password; give it only postgres://USER@host" >&2; exit 78 ;;
  esac
  export "CHAT_ARCHIVE=${CHAT_ARCHIVE%%://*}://${rest%%@*}:$(escape "$(cat "$ARCHIVE_PASSWORD_FILE")")@${rest#*@}"
fi
exec "$@"
