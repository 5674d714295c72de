#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The project's test command (README "Quick start", called by .ci/run).
#
# On Debian 12, as root: installs every package in tests/ci-packages.txt that is
# missing, builds with warnings as errors, runs every unit and integration test,
# and ends with one line "N passed, N failed, N skipped" summing all of them.
# Exit status: 0 only if nothing failed.
#
# Environment: VSCARD_BUILD_DIR (default: build-tests) names the build directory.
# Then a fuzz build (clang, ASan+UBSan) runs every fuzz target, and a sanitizer
# build runs the whole suite again; VSCARD_SKIP_FUZZ=1 / VSCARD_SKIP_SANITIZE=1
# skip them, VSCARD_FUZZ_BUILD_DIR / VSCARD_SANITIZE_BUILD_DIR name their dirs.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${VSCARD_BUILD_DIR:-build-tests}

"$top/tests/install-deps.sh" || { echo "0 passed, 1 failed"; exit 1; }

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --werror -Dbuildtype=debugoptimized || { echo "0 passed, 1 failed"; exit 1; }
fi
if ! ninja -C "$build"; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# Unit tests run in parallel; integration tests are registered is_parallel: false.
meson test -C "$build" --print-errorlogs --no-rebuild
status=$?

# --- Reliability stages (issue 9); each can be skipped for a local run. ---
# Results of stages outside meson: one JSON line each, for summarize.py --extra.
stage_results="$build/stage-results.jsonl"
: > "$stage_results"
builds=("$build")
stage_failed() { echo "{\"name\": \"$1\", \"passed\": 0, \"failed\": 1, \"skipped\": 0}" >> "$stage_results"; }

# Fuzzers: clang + ASan/UBSan, every target of tests/fuzz for a bounded number
# of executions (VSCARD_FUZZ_RUNS, see tests/fuzz/run-fuzzers.sh); a crash fails.
# VSCARD_SKIP_FUZZ=1 skips the stage.
if [ "${VSCARD_SKIP_FUZZ:-0}" != 1 ]; then
  fuzz_build=${VSCARD_FUZZ_BUILD_DIR:-build-fuzz}
  echo "=== fuzzers ($fuzz_build) ==="
  if [ ! -f "$fuzz_build/build.ninja" ] &&
     ! CC=clang CXX=clang++ meson setup "$fuzz_build" -Dbuildtype=debugoptimized -Dfuzz=true \
         -Dtests=true -Dbench=false -Db_sanitize=address,undefined -Db_lundef=false; then
    stage_failed "fuzz/setup"
  elif ! ninja -C "$fuzz_build" $(awk '!/^#/ && NF { print "tests/fuzz/" $1 }' "$fuzz_build/tests/fuzz/fuzz-targets.txt"); then
    stage_failed "fuzz/build"
  else
    "$top/tests/fuzz/run-fuzzers.sh" "$fuzz_build" "$stage_results"
  fi
fi

# Sanitizer build: the whole unit and integration suite again under ASan, UBSan
# and LeakSanitizer (suppressions: tests/sanitizers/lsan.supp, each explained).
# VSCARD_SKIP_SANITIZE=1 skips the stage.
if [ "${VSCARD_SKIP_SANITIZE:-0}" != 1 ]; then
  san_build=${VSCARD_SANITIZE_BUILD_DIR:-build-sanitize}
  echo "=== sanitizer build ($san_build) ==="
  if [ ! -f "$san_build/build.ninja" ] &&
     ! meson setup "$san_build" --werror -Dbuildtype=debugoptimized -Dbench=false \
         -Db_sanitize=address,undefined -Db_lundef=false; then
    stage_failed "sanitize/setup"
  elif ! ninja -C "$san_build"; then
    stage_failed "sanitize/build"
  else
    # ASan slows programs down 2-3x: more time per test. VSCARD_SANITIZE_TEST_ARGS
    # narrows the run for a local check (e.g. "--suite unit"); CI runs everything,
    # the QEMU guest tests included (QEMU itself is not instrumented, our
    # programs talking to it are).
    # shellcheck source=sanitizers/env.sh disable=SC2086
    # Tests in the 'plain-only' suite ran in the plain stage (see
    # tests/integration/meson.build): the CI time goes to our code under ASan.
    ( . "$top/tests/sanitizers/env.sh"
      meson test -C "$san_build" --print-errorlogs --no-rebuild --timeout-multiplier 3 \
        --no-suite plain-only ${VSCARD_SANITIZE_TEST_ARGS:-} ) || status=1
    builds+=("$san_build")
  fi
fi

/usr/bin/python3 "$top/tests/summarize.py" "${builds[@]}" --extra "$stage_results"
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
