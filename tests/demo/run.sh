#!/usr/bin/env bash
# README demo: installs what is missing, builds, and shows VSCard at work.
# (Until vschost and vscclient land, it runs the wire-layer unit tests verbosely.)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
tests/install-deps.sh
build=${VSCARD_BUILD_DIR:-build-demo}
[ -f "$build/build.ninja" ] || meson setup "$build" -Dbuildtype=debugoptimized >/dev/null
ninja -C "$build" >/dev/null
"$build/tests/unit/decoder_test"
