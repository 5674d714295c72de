#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Round-trip benchmarks (issue 10): bridge overhead against the loopback floor,
# a CAC session, host scaling, vscclient idle. See tests/bench/README.md.
#   tests/bench/run-bench.sh [--quick] [--out FILE] [--sections LIST] [--no-pcsc]
# 1000 clients need 1000+ descriptors on each side: raise the soft limit.
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec /usr/bin/python3 "$(dirname "$0")/run_bench.py" "$@"
