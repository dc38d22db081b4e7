#!/usr/bin/env bash
# Installs what building and running need on Debian/Ubuntu, only where it is missing: redis-server (the local
# cluster and the tests start their own), libhiredis-dev and pkg-config (the hiredis system library target),
# libicu-dev (ICU: Unicode's identifier security for names and rooms),
# libncurses-dev (the terminal client, ncursesw), curl (the local cluster script waits on the balancer), openssl
# (development certificates for the TLS ports, scripts/dev-cert.sh; the TLS tests' raw client, s_client) and
# postgresql (the local cluster's archive; the archive's tests start their own server from its binaries).
# With --tests, also what the tests need: docker-compose (validates docker-compose.yml; no Docker engine is
# needed), iproute2 (the multi-host test), tmux (the terminal client's test), irssi and weechat (real IRC clients,
# in tmux) and chromium with chromium-driver (the web client's browser test).
#   scripts/install-deps.sh          scripts/install-deps.sh --tests
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# PostgreSQL: the local cluster's archive (scripts/cluster.sh), and the archive's tests start their own.
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || command -v postgres >/dev/null 2>&1 || missing+=(postgresql)
if [ "${1:-}" = "--tests" ]; then
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v tmux >/dev/null 2>&1 || missing+=(tmux)
  command -v irssi >/dev/null 2>&1 || missing+=(irssi)
  command -v weechat >/dev/null 2>&1 || missing+=(weechat-curses)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fi
if ! pkg-config --exists hiredis 2>/dev/null; then missing+=(libhiredis-dev); fi
if ! pkg-config --exists icu-i18n 2>/dev/null; then missing+=(libicu-dev); fi
if ! pkg-config --exists ncursesw 2>/dev/null; then missing+=(libncurses-dev); fi

# The Kubernetes manifests' schema check (KubernetesTests), from PyPI; kubectl (with kustomize) renders them and
# is not packaged by Debian: install it from Kubernetes' own repository (docs/deploy.md).
if [ "${1:-}" = "--tests" ] && ! command -v kubernetes-validate >/dev/null 2>&1; then
  python3 -m pip install -q kubernetes-validate || echo "could not install kubernetes-validate (pip)" >&2
fi
# The traces' collector stand-in (TracingTests) checks what a node posts with OpenTelemetry's own protobuf
# definitions of OTLP.
if [ "${1:-}" = "--tests" ] && ! python3 -c "import opentelemetry.proto" >/dev/null 2>&1; then
  python3 -m pip install -q opentelemetry-proto || echo "could not install opentelemetry-proto (pip)" >&2
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: ${missing[*]}; install them with your system's package manager (this script knows apt-get)." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "missing: ${missing[*]}; run as root or install sudo." >&2; exit 1; }
  sudo="sudo"
fi
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
