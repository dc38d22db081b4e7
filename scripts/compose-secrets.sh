#!/usr/bin/env bash
# The Redis passwords docker-compose.yml needs (and PostgreSQL's, and Grafana's for its monitoring profile), as files in deploy/secrets/ (git-ignored, and kept out of the
# image by .dockerignore). Compose mounts each file only into the containers that use it, at /run/secrets/, so no
# password is in the compose file, in `docker compose config` or in a container's environment (`docker inspect`).
#
#   scripts/compose-secrets.sh                    make whichever password is missing; never changes one that exists
#   scripts/compose-secrets.sh --rotate node      a new password for the nodes' user (or balancer, healthcheck);
#                                                 then recreate Redis and that user's services (docs/deploy.md)
#
# Passwords are 64 hex digits (256 random bits): safe in a Redis URL as they are, and too long to guess, so Redis
# only ever keeps their SHA-256 (deploy/redis-entrypoint.sh).
#
# The balancer's TLS certificate is here too (tls-chain.pem, the full chain, and tls-key.pem): when missing, a
# development certificate for localhost (scripts/dev-cert.sh) is put there. Copy a real one over both files (in
# place, keeping the files), then `docker compose kill -s HUP balancer`.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${SECRETS_DIR:-deploy/secrets}  # SECRETS_DIR: elsewhere (the tests)
# replication and cluster-admin: the Redis Cluster's (docker-compose.redis-cluster.yml), made for either setup.
users=(node balancer healthcheck replication cluster-admin)

usage() {
  echo "usage: $0 [--rotate node|balancer|healthcheck|replication|cluster-admin]" >&2
  exit 2
}

new_password() {
  if command -v openssl >/dev/null 2>&1; then
    openssl rand -hex 32
  else
    od -An -v -N32 -tx1 /dev/urandom | tr -d ' \n'
    echo
  fi
}

# Writes into the existing file when there is one (same inode), so that a running container's mount of it sees the
# new password too; only a recreated container is guaranteed to, though, so docs/deploy.md says recreate.
write_password() {
  local file="$dir/redis-$1-password"
  local password
  password=$(new_password)
  [[ "$password" =~ ^[0-9a-f]{64}$ ]] || { echo "could not make a random password" >&2; exit 1; }
  printf '%s\n' "$password" >"$file"
}

# The directory keeps other people on this host out (0700). The files themselves must be readable by the
# containers' own users (the chat image runs as uid 10001, not as you): compose mounts a secret file with the
# host file's owner and mode and cannot change them outside Swarm, hence 0644 inside the private directory.
install -d -m 700 "$dir"
umask 022

case "${1:-}" in
  "")
    [[ $# -eq 0 ]] || usage
    for user in "${users[@]}"; do
      file="$dir/redis-$user-password"
      if [[ -s "$file" ]]; then
        echo "kept    $file"
      else
        write_password "$user"
        echo "created $file"
      fi
    done
    # The archive's PostgreSQL user (chat): the image sets it at the first start of an empty volume only, so it is
    # never rotated here (ALTER USER, then write the file, is the way).
    if [[ -s "$dir/postgres-password" ]]; then
      echo "kept    $dir/postgres-password"
    else
      password=$(new_password)
      [[ "$password" =~ ^[0-9a-f]{64}$ ]] || { echo "could not make a random password" >&2; exit 1; }
      printf '%s\n' "$password" >"$dir/postgres-password"
      echo "created $dir/postgres-password"
    fi
    ;;
  --rotate)
    [[ $# -eq 2 ]] || usage
    case "$2" in node | balancer | healthcheck | replication | cluster-admin) ;; *) usage ;; esac
    write_password "$2"
    echo "rotated $dir/redis-$2-password"
    case "$2" in
      node) services="redis node" ;;
      balancer) services="redis balancer" ;;
      healthcheck) services="redis" ;;
      replication | cluster-admin) services="redis-1 redis-2 redis-3 redis-4 redis-5 redis-6 (docker-compose.redis-cluster.yml)" ;;
    esac
    echo "now: docker compose up -d --force-recreate $services"
    ;;
  *) usage ;;
esac

# Grafana's admin password (the monitoring profile); anyone who reaches Grafana may look without it, read-only.
if [[ -s "$dir/grafana-admin-password" ]]; then
  echo "kept    $dir/grafana-admin-password"
else
  new_password >"$dir/grafana-admin-password"
  echo "created $dir/grafana-admin-password (Grafana's user: admin)"
fi

if [[ -s "$dir/tls-chain.pem" && -s "$dir/tls-key.pem" ]]; then
  echo "kept    $dir/tls-chain.pem and tls-key.pem"
else
  scratch=$(mktemp -d)
  scripts/dev-cert.sh "$scratch" dev 365 >/dev/null
  cp "$scratch/dev-chain.pem" "$dir/tls-chain.pem"
  cp "$scratch/dev-server.key" "$dir/tls-key.pem"
  cp "$scratch/dev-ca.pem" "$dir/tls-dev-ca.pem"
  rm -rf "$scratch"
  # Readable by the balancer's container user, as the passwords are (see above).
  chmod 644 "$dir/tls-chain.pem" "$dir/tls-key.pem" "$dir/tls-dev-ca.pem"
  echo "created $dir/tls-chain.pem and tls-key.pem: a development certificate for localhost (clients trust $dir/tls-dev-ca.pem)"
fi
