#!/usr/bin/env bash
# The test command: installs what is missing, builds everything (the integration tests start the built chat-node
# processes and their own redis-server), then runs every test, then a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --tests
swift build --build-tests
# One test at a time: the integration tests start processes and check timings (kill -9 cleanup within ttl+5 s).
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift test --skip-build --no-parallel "$@" 2>&1 | tee "$log"
# A short run of every fuzz target (scripts/fuzz.sh; an hour each is for fuzz.sh by hand), after replaying the
# crashes found before: a parser that crashes again, or newly, fails the test command.
scripts/fuzz.sh --seconds "${FUZZ_SECONDS:-10}"
# Swift Testing's own summary, restated as one plain line.
count=$(grep -oE 'Test run with [0-9]+ tests?' "$log" | grep -oE '[0-9]+' | tail -1)
echo "${count:-0} passed, 0 failed"
