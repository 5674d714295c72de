# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by tests/run-all.sh (and usable by hand: `. tests/sanitizers/env.sh`)
# before running tests of a build made with -Db_sanitize=address,undefined.
_san_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Any finding ends the process with an error, so the test that ran it fails.
# intercept_tls_get_addr=0: LeakSanitizer's tracer crashes ("LeakSanitizer has
# encountered a fatal error") at the exit of any program whose GTask pool
# thread touched glib-networking's dynamic TLS -- vscclient ending on a TLS
# refusal, for one; tests/unit/meson.build (tls_test) explains it. The leak
# check still runs.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:print_summary=1:detect_stack_use_after_return=1:check_initialization_order=1:intercept_tls_get_addr=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:print_summary=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$_san_dir/lsan.supp:print_suppressions=0}
# GLib's slice allocator caches blocks LeakSanitizer would report as leaks;
# plain malloc makes every GLib allocation visible and precise.
export G_SLICE=always-malloc
export G_DEBUG=${G_DEBUG:-gc-friendly}
unset _san_dir
