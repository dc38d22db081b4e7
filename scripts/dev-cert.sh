#!/usr/bin/env bash
# Makes a development certificate authority and a server certificate it signs, for localhost and 127.0.0.1
# (EC P-256), with openssl. For a local cluster (scripts/cluster.sh) and the tests; never for a public server,
# which needs a certificate from a real CA (see docs/deploy.md).
#   scripts/dev-cert.sh DIR [NAME] [DAYS]
# writes DIR/NAME-ca.pem (what clients trust: chat --ca-file, openssl s_client -CAfile), DIR/NAME-chain.pem (the
# server's certificate then the CA's: what a server presents) and DIR/NAME-server.key. NAME defaults to "dev",
# DAYS to 30. Existing files are replaced.
set -euo pipefail
dir=${1:?usage: scripts/dev-cert.sh DIR [NAME] [DAYS]}
name=${2:-dev}
days=${3:-30}
mkdir -p "$dir"
cd "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name-ca.key" \
  -out "$name-ca.pem" -days "$days" -subj "/CN=$name swift-redis-chat development CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name-server.key" \
  -out "$name-server.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
  >"$name-ext.cnf"
openssl x509 -req -in "$name-server.csr" -CA "$name-ca.pem" -CAkey "$name-ca.key" -CAcreateserial \
  -out "$name-server.pem" -days "$days" -extfile "$name-ext.cnf" 2>/dev/null
cat "$name-server.pem" "$name-ca.pem" >"$name-chain.pem"
# The CA's key signs nothing else: drop it, so this CA can never vouch for another name.
rm -f "$name-ca.key" "$name-server.csr" "$name-ext.cnf" "$name-ca.srl"
# Readable by whoever runs the servers (a container user, say); the key stays private to this user.
chmod 644 "$name-ca.pem" "$name-chain.pem" "$name-server.pem"
