#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs every libFuzzer target of a fuzz build for a bounded number of executions.
#
# Usage: tests/fuzz/run-fuzzers.sh FUZZ_BUILD_DIR RESULTS.jsonl
#
# FUZZ_BUILD_DIR is a build set up with clang and -Dfuzz=true (tests/run-all.sh
# adds ASan+UBSan). Targets run two at a time (CI has two cores). Each target
# starts from its committed seeds (tests/fuzz/corpus/NAME) plus what earlier runs
# in this build dir found (FUZZ_BUILD_DIR/fuzz-work/NAME). Appends one JSON line
# per target, {"name","passed","failed","skipped"}, to RESULTS.jsonl for
# tests/summarize.py --extra, and prints executions and exec/s per target.
# A crash, leak, timeout or broken invariant fails the target; its input is saved
# as FUZZ_BUILD_DIR/fuzz-work/NAME-crash-* (replay: the fuzzer binary with that file).
#
# Environment:
#   VSCARD_FUZZ_RUNS   executions per target, overriding the table in
#                      tests/fuzz/meson.build (e.g. 20000 for a quick local run)
#   VSCARD_FUZZ_MAX_SECONDS  wall-clock cap per target (default 180): a target that
#                      reaches it stops early, is reported, and is not a failure.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: $0 FUZZ_BUILD_DIR RESULTS.jsonl}" && pwd)
results=${2:?usage: $0 FUZZ_BUILD_DIR RESULTS.jsonl}
max_seconds=${VSCARD_FUZZ_MAX_SECONDS:-180}
list="$build/tests/fuzz/fuzz-targets.txt"
work="$build/fuzz-work"
mkdir -p "$work"

if [ ! -f "$list" ]; then
  echo "$list missing: set the build up with -Dfuzz=true" >&2
  echo '{"name": "fuzz/setup", "passed": 0, "failed": 1, "skipped": 0}' >> "$results"
  exit 1
fi

# Fast malloc stacks and a small quarantine: the inputs are tiny, and the default
# 256 MB quarantine only costs memory here. Leaks stay detected.
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=5:quarantine_size_mb=32:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
  local name=$1 dict=$2 runs=$3
  local exe="$build/tests/fuzz/$name" log="$work/$name.log"
  mkdir -p "$work/$name"
  local start end status seeds=()
  [ -d "$top/tests/fuzz/corpus/$name" ] && seeds=("$top/tests/fuzz/corpus/$name")
  start=$(date +%s.%N)
  "$exe" -runs="$runs" -max_total_time="$max_seconds" -max_len=2048 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -dict="$dict" \
    -artifact_prefix="$work/$name-" \
    "$work/$name" "${seeds[@]}" > "$log" 2>&1
  status=$?
  end=$(date +%s.%N)
  local execs seconds rate
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  rate=$(awk -v n="$execs" -v s="$seconds" 'BEGIN { printf "%d", n / (s + 0.001) }')
  echo $status > "$work/$name.status"
  if [ $status -eq 0 ]; then
    local note=""
    [ "$execs" -lt "$runs" ] && note=" (stopped at the ${max_seconds}s cap before $runs)"
    printf '%-28s passed: %d executions in %.0f s, %d exec/s%s\n' "$name" "$execs" "$seconds" "$rate" "$note"
    printf '{"name": "fuzz/%s", "passed": 1, "failed": 0, "skipped": 0, "executions": %d, "exec_per_second": %d}\n' \
      "$name" "$execs" "$rate" >> "$results"
  else
    printf '%-28s FAILED (exit %d) after %d executions; log: %s\n' "$name" "$status" "$execs" "$log"
    grep -E '(==ERROR|^SUMMARY|invariant broken|runtime error|Test unit written|No such file)' "$log" | head -20
    printf '{"name": "fuzz/%s", "passed": 0, "failed": 1, "skipped": 0, "executions": %d}\n' \
      "$name" "$execs" >> "$results"
  fi
}

names=()
while read -r name dict runs; do
  case "$name" in ''|'#'*) continue ;; esac
  while [ "$(jobs -pr | wc -l)" -ge 2 ]; do wait -n; done
  rm -f "$work/$name.status"
  names+=("$name")
  run_one "$name" "$dict" "${VSCARD_FUZZ_RUNS:-$runs}" &
done < "$list"
wait

failed=0
for name in "${names[@]}"; do
  [ "$(cat "$work/$name.status" 2>/dev/null)" = 0 ] || failed=1
done
exit $failed
