#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# README demo: installs what is missing, builds, and shows VSCard at work.
# It runs vschost with a script that reads the card vscclient --soft-card feeds
# it, and prints what the host saw (tests/demo/soft_card_demo.py).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
tests/install-deps.sh
build=${VSCARD_BUILD_DIR:-build-demo}
[ -f "$build/build.ninja" ] || meson setup "$build" -Dbuildtype=debugoptimized >/dev/null
ninja -C "$build" >/dev/null
exec /usr/bin/python3 tests/demo/soft_card_demo.py "$build"
