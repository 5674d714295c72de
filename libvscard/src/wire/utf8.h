// Strict UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF). Used for ReaderAdd names, which end up in logs and reports.
#pragma once

#include <string_view>

namespace vscard::wire {

// True if `text` is well-formed UTF-8 without NUL characters.
bool is_valid_utf8(std::string_view text);

}  // namespace vscard::wire
