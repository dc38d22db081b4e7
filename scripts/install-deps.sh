#!/usr/bin/env bash
# Installs what building and testing need on Debian/Ubuntu, only where it is missing:
# redis-server (the tests and the local cluster start their own), libhiredis-dev and pkg-config (the hiredis
# system library target), curl (the local cluster script), docker-compose (validates docker-compose.yml; no
# Docker engine is needed), iproute2 (the multi-host test), libncurses-dev (the terminal client, ncursesw) and
# tmux (the terminal client's end-to-end test), chromium and chromium-driver (the web client's browser test).
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v curl >/dev/null 2>&1 || missing+=(curl)  # scripts/cluster.sh waits on the balancer with it
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)  # the tests validate docker-compose.yml
command -v ip >/dev/null 2>&1 || missing+=(iproute2)  # the multi-host test builds network namespaces
command -v tmux >/dev/null 2>&1 || missing+=(tmux)  # the terminal client's test runs it in tmux
command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # the web client's test drives a headless browser
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if ! pkg-config --exists hiredis 2>/dev/null; then missing+=(libhiredis-dev); fi
if ! pkg-config --exists ncursesw 2>/dev/null; then missing+=(libncurses-dev); fi

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
