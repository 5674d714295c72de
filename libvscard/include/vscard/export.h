// SPDX-License-Identifier: LGPL-2.1-or-later
// What libvscard exports. The library is built with hidden visibility
// (libvscard/meson.build: gnu_symbol_visibility 'hidden'), so only what an
// installed header declares between VSCARD_API_BEGIN and VSCARD_API_END, or
// marks VSCARD_EXPORT, is part of the ABI; the wire/session/transport helpers
// in src/ stay internal. tests/unit/exported_symbols_test.py checks the list.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define VSCARD_EXPORT __attribute__((visibility("default")))
// On an API class's private `struct Impl;`: a nested class takes its exported
// parent's visibility unless its declaration says otherwise.
#define VSCARD_HIDDEN __attribute__((visibility("hidden")))
#define VSCARD_API_BEGIN _Pragma("GCC visibility push(default)")
#define VSCARD_API_END _Pragma("GCC visibility pop")
#else
#define VSCARD_EXPORT
#define VSCARD_HIDDEN
#define VSCARD_API_BEGIN
#define VSCARD_API_END
#endif
