#!/usr/bin/env bash
# The test command.
#   scripts/test.sh          installs what is missing, builds everything, runs every test one at a time (the
#                            integration tests start their own redis-server, postgres, chat-node, chat-balancer,
#                            tmux and browser processes) and, beside them, the format check and a short run of
#                            every fuzz target: about 23 minutes here from a fresh clone at 799e8cb (9.3 of them
#                            the build, 13.5 the tests), 15 with it done
#   scripts/test.sh --fast   only the tests that start no process, in parallel, then the format check: under a
#                            minute after a build
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
  # Beside the tests, at the idle scheduling class (it gets only what the tests leave: they mostly wait on the
  # processes they start): the format check, then a short run of every fuzz target (scripts/fuzz.sh; an hour each
  # is for fuzz.sh by hand), after replaying the crashes found before, so a parser that crashes again, or newly,
  # fails the test command. A debug build: it is built in half the time of a release one. Not when the tests were
  # narrowed (`--filter X`): that asks for those tests only. Three minutes off a fresh clone's run.
  # Its own process group (setsid), ended with the script however the script ends (a background job of a script
  # ignores Ctrl-C). An input may take long to run only because the tests held the CPU: libFuzzer's per-input
  # limit is raised for this run (FUZZ_TIMEOUT), so a starved input is not taken for a hang.
  beside=$(mktemp)
  idle="nice -n 19"
  if chrt --idle 0 true 2>/dev/null; then idle="chrt --idle 0"; fi
  fuzz=""
  if [ $# -eq 0 ]; then fuzz=1; fi
  setsid bash -c '
    status=0
    '"$idle"' scripts/format.sh --check || status=1
    if [ -n "'"$fuzz"'" ]; then FUZZ_TIMEOUT=300 '"$idle"' scripts/fuzz.sh --debug --seconds "${FUZZ_SECONDS:-3}" || status=1; fi
    exit $status
  ' >"$beside" 2>&1 &
  besides=$!
  trap 'kill -- -"$besides" 2>/dev/null || true; rm -f "$log" "$beside"' EXIT
  # One test at a time: the integration tests start processes and check timings (kill -9 cleanup within ttl+5 s).
  tests=0
  swift test --skip-build --no-parallel "$@" 2>&1 | tee "$log" || tests=$?
  besides_status=0
  wait "$besides" || besides_status=$?
  cat "$beside"
  [ "$tests" -eq 0 ] && [ "$besides_status" -eq 0 ] || exit 1
fi
# The tree as the formatter has it (scripts/format.sh fixes it); the full run checked it beside the tests.
if [ -n "$fast" ]; then scripts/format.sh --check; fi
# Swift Testing's own summary counts cancelled tests as run; restated as one plain line.
passed=$(grep -cE '^✔ Test ' "$log" || true)
skipped=$(grep -cE '^➜ Test .*(cancelled|skipped)' "$log" || true)
echo "$passed passed, 0 failed, $skipped skipped${fast:+ (they start processes: scripts/test.sh runs them)}"
