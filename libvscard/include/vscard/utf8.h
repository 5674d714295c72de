// SPDX-License-Identifier: LGPL-2.1-or-later
// The UTF-8 rule libvscard applies to peer text (ReaderAdd names, printable()):
// RFC 3629, so no overlong forms, no surrogates, nothing above U+10FFFF. For a
// program that escapes text its own way (vschost's JSON) and must agree on
// what counts as valid.
#pragma once

#include <cstddef>
#include <string_view>

#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

// The length (1 to 4) of the well-formed UTF-8 sequence at the start of `text`,
// or 0 if `text` is empty or does not start with one. A NUL byte counts as 1.
std::size_t utf8_sequence_length(std::string_view text);

VSCARD_API_END
}  // namespace vscard
