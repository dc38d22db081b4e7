#!/usr/bin/env bash
# The test command.
#   scripts/test.sh          installs what is missing, builds everything, runs every test one at a time (the
#                            integration tests start their own redis-server, chat-node, chat-balancer, tmux and
#                            browser processes), then a short run of every fuzz target: 27 minutes here from a
#                            fresh clone at 81865ac (9.5 of them the build, 1.6 the fuzzers'), 16 with it done
#   scripts/test.sh --fast   only the tests that start no process, in parallel: under a minute after a build
# Both end with the format check (scripts/format.sh --check).
# Any further arguments go to `swift test`, e.g. `scripts/test.sh --filter ChatStoreTests` for one suite (then
# without the fuzz run). --fast comes first.
set -euo pipefail
cd "$(dirname "$0")/.."

fast=""
if [ "${1:-}" = "--fast" ]; then fast=1; shift; fi

if [ -n "$fast" ]; then scripts/install-deps.sh; else scripts/install-deps.sh --tests; fi
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ -n "$fast" ]; then
  # Every test that would start a process cancels itself before it does (TestEnvironment.startingProcess), so
  # this is exactly the process-free tests, with no list to keep. They share nothing, so they run in parallel.
  CHAT_TESTS_FAST=1 swift test --skip-build "$@" 2>&1 | tee "$log"
else
  # One test at a time: the integration tests start processes and check timings (kill -9 cleanup within ttl+5 s).
  swift test --skip-build --no-parallel "$@" 2>&1 | tee "$log"
  # A short run of every fuzz target (scripts/fuzz.sh; an hour each is for fuzz.sh by hand), after replaying the
  # crashes found before: a parser that crashes again, or newly, fails the test command. A debug build: it is
  # built in half the time of a release one, which is most of what a few seconds of fuzzing cost. Not when the
  # tests were narrowed (`--filter X`): that asks for those tests only.
  if [ $# -eq 0 ]; then scripts/fuzz.sh --debug --seconds "${FUZZ_SECONDS:-3}"; fi
fi
# The tree as the formatter has it (scripts/format.sh fixes it): checked last, so the tests run either way.
scripts/format.sh --check
# Swift Testing's own summary counts cancelled tests as run; restated as one plain line.
passed=$(grep -cE '^✔ Test ' "$log" || true)
skipped=$(grep -cE '^➜ Test .*(cancelled|skipped)' "$log" || true)
echo "$passed passed, 0 failed, $skipped skipped${fast:+ (they start processes: scripts/test.sh runs them)}"
