// SPDX-License-Identifier: LGPL-2.1-or-later
// VSCARD_HIDDEN marks the private Impl of an API class. A nested class takes
// its enclosing class's visibility, and API classes are exported
// (vscard/export.h), so without it every Impl member would be exported too
// (tests/integration/test_exported_symbols.py checks that none is).
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define VSCARD_HIDDEN __attribute__((visibility("hidden")))
#else
#define VSCARD_HIDDEN
#endif
