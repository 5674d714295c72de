// SPDX-License-Identifier: LGPL-2.1-or-later
// Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF). Used for ReaderAdd names and for vscard::printable(), which
// escapes peer text for logs and reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vscard::wire {

// Decodes the sequence at the start of `text` into `cp`; returns its length
// (1..4), or 0 if `text` is empty or does not start with well-formed UTF-8.
std::size_t decode_utf8(std::string_view text, std::uint32_t& cp);

// True if `text` is well-formed UTF-8 without NUL characters.
bool is_valid_utf8(std::string_view text);

}  // namespace vscard::wire
