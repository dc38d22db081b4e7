#!/usr/bin/env bash
# Fuzzes every parser that reads what strangers send (Fuzz/Sources/chat-fuzz/Targets.swift lists them), with
# libFuzzer and AddressSanitizer.
#   scripts/fuzz.sh                      every target for 60 s each
#   scripts/fuzz.sh --seconds 3600 irc   one target for an hour
#   scripts/fuzz.sh --list               the targets
#   scripts/fuzz.sh --debug --seconds 3  a debug build (built in half the time, runs slower): the test command's
#                                        short run, which replays the kept inputs and looks around them briefly
#   scripts/fuzz.sh --build-only         builds the fuzzers and runs nothing
# First it replays every input kept in Fuzz/Regressions/<target>/ (crashes found before and fixed): each must run
# clean. Then each target runs for the time given, from its seeds (Fuzz/Corpus/<target>/, committed) and what
# earlier runs found (Fuzz/.build/corpus/<target>/, not committed). A crash stops the script with the input that
# caused it, saved as Fuzz/.build/crashes/<target>/crash-*: fix the parser, copy the input into Fuzz/Regressions/
# <target>/, and name it in a unit test. Each run's executions, new inputs and coverage are printed as one line.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
configuration=release
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --list) list=1; shift ;;
    --debug) configuration=debug; shift ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done

scripts/install-deps.sh
# libFuzzer without its main (SwiftPM names the program's entry point, which hands over to libFuzzer's driver).
runtime=$(find "$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")/lib/clang" \
  -name 'libclang_rt.fuzzer_no_main-x86_64.a' 2>/dev/null | head -1)
[ -n "$runtime" ] || { echo "fuzz.sh: this Swift toolchain has no libclang_rt.fuzzer_no_main" >&2; exit 1; }
swift build --package-path Fuzz -c "$configuration" \
  -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
  -Xlinker "$runtime" -Xlinker -lstdc++ 2>&1 | grep -vE '^warning: (prohibited flag|.swift-distributed)' | tail -3
binary=Fuzz/.build/$configuration/chat-fuzz
[ -z "${build_only:-}" ] || exit 0

all=(irc json-request json-event text proxy host names search line-framer resp prometheus websocket http-head)
if [ -n "${list:-}" ]; then printf '%s\n' "${all[@]}"; exit 0; fi
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
status=0
for target in "${targets[@]}"; do
  regressions=(Fuzz/Regressions/"$target"/*)
  if [ -e "${regressions[0]}" ]; then
    if ! CHAT_FUZZ_TARGET=$target "$binary" "${regressions[@]}" >"Fuzz/.build/replay-$target-$$.log" 2>&1; then
      echo "fuzz $target: a kept regression input fails again (Fuzz/.build/replay-$target-$$.log)" >&2
      status=1
      continue
    fi
  fi
  corpus=Fuzz/.build/corpus/$target
  crashes=Fuzz/.build/crashes/$target
  mkdir -p "$corpus" "$crashes"
  # One log per run: two runs of the same target at once (an hour's run by hand, the test command's short one)
  # share the corpus, which libFuzzer allows, but must not write over each other's log.
  log=Fuzz/.build/fuzz-$target-$$.log
  if CHAT_FUZZ_TARGET=$target "$binary" "$corpus" "Fuzz/Corpus/$target" -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" \
    -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -artifact_prefix="$crashes/" >"$log" 2>&1; then
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
    added=$(grep -oE 'stat::new_units_added: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
    coverage=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
    echo "fuzz $target: ${seconds} s, $runs executions, $added new inputs, $coverage edges covered, no crash"
  else
    echo "fuzz $target: CRASH; input saved in $crashes/ (log: $log)" >&2
    grep -E 'Fatal error|ERROR: AddressSanitizer|property broken' "$log" | head -3 >&2 || true
    status=1
  fi
done
exit $status
