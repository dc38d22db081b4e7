#!/usr/bin/env bash
# The secrets deploy/kubernetes needs, as YAML on stdout, from the same files docker-compose.yml uses
# (deploy/secrets/, made by scripts/compose-secrets.sh, which this runs first: missing ones are made, none changed):
#   chat-redis-passwords   the Redis ACL users' passwords (chat-node, chat-balancer, healthcheck); Redis gets their
#                          SHA-256 (deploy/redis-entrypoint.sh), the chat's pods the one each needs
#   chat-tls               the balancer's certificate (kubernetes.io/tls): deploy/secrets/tls-chain.pem and
#                          tls-key.pem, a development one for localhost until you copy yours over them
#   chat-postgres          the archive's password (components/archive)
#
#   scripts/kubernetes-secrets.sh | kubectl apply -n chat -f -
#   scripts/kubernetes-secrets.sh --no-tls | ...       without chat-tls: cert-manager (or you) keeps that one
#
# Rotating a password: scripts/compose-secrets.sh --rotate node, apply this again, then restart Redis and the
# pods that use it (kubectl -n chat rollout restart statefulset/redis deployment/chat-node). Nothing is written but
# deploy/secrets/ (git-ignored); keep it, or the secrets, safe.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/compose-secrets.sh >&2

dir=${SECRETS_DIR:-deploy/secrets}  # SECRETS_DIR: elsewhere (the tests)
tls=1
case "${1:-}" in
  --no-tls) tls= ;;
  "") ;;
  *) echo "usage: $0 [--no-tls]" >&2; exit 2 ;;
esac
# base64 without line breaks (GNU's -w0 is not everywhere).
encode() { base64 <"$1" | tr -d '\n'; }
# Each password without its trailing newline, as chat-redis-auth and redis-entrypoint.sh read it.
password() { printf '%s' "$(cat "$dir/$1")" | base64 | tr -d '\n'; }

cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: chat-redis-passwords
type: Opaque
data:
  redis-node-password: $(password redis-node-password)
  redis-balancer-password: $(password redis-balancer-password)
  redis-healthcheck-password: $(password redis-healthcheck-password)
---
YAML
if [ -n "$tls" ]; then
  cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: chat-tls
type: kubernetes.io/tls
data:
  tls.crt: $(encode "$dir/tls-chain.pem")
  tls.key: $(encode "$dir/tls-key.pem")
---
YAML
fi
cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: chat-postgres
type: Opaque
data:
  password: $(password postgres-password)
YAML
