#!/usr/bin/env bash
# The test command: installs what is missing, builds everything (the integration tests start the built chat-node
# processes and their own redis-server), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build --build-tests
# One test at a time: the integration tests start processes and check timings (kill -9 cleanup within ttl+5 s).
swift test --skip-build --no-parallel "$@"
