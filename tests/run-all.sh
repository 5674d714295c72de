#!/usr/bin/env bash
# The project's test command (README "Quick start", called by .ci/run).
#
# On Debian 12, as root: installs every package in tests/ci-packages.txt that is
# missing, builds with warnings as errors, runs every unit and integration test,
# and ends with one line "N passed, N failed, N skipped" summing all of them.
# Exit status: 0 only if nothing failed.
#
# Environment: VSCARD_BUILD_DIR (default: build-tests) names the build directory.
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

/usr/bin/python3 "$top/tests/summarize.py" "$build"
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
