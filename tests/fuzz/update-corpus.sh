#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Regenerates tests/fuzz/corpus/ from tests/unit/wire_vectors.h.
# Usage: tests/fuzz/update-corpus.sh FUZZ_BUILD_DIR   (a build set up with -Dfuzz=true)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: $0 FUZZ_BUILD_DIR}
ninja -C "$build" tests/fuzz/fuzz_seed_writer
rm -rf "$top/tests/fuzz/corpus"
"$build/tests/fuzz/fuzz_seed_writer" "$top/tests/fuzz/corpus"
echo "wrote $(find "$top/tests/fuzz/corpus" -type f | wc -l) seeds to tests/fuzz/corpus"
