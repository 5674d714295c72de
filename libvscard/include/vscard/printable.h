// SPDX-License-Identifier: LGPL-2.1-or-later
// Peer bytes as text: the one escaping rule for everything a peer chose (reader
// names, APDU data, error texts, host names, TLS library messages) before it
// reaches a terminal, a log or a report. Every output format applies its own
// quoting (JSON, XML, TAP) on top of this, so a name reads the same everywhere.
#pragma once

#include <string>
#include <string_view>

#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

// `bytes` with everything a terminal or a line-oriented reader could act on
// made visible: well-formed, printable UTF-8 passes unchanged; a backslash
// becomes "\\"; newline, carriage return and tab become "\n", "\r", "\t"; other
// C0 controls, DEL and every byte that is not part of well-formed UTF-8 (RFC
// 3629) become "\xNN"; C1 controls (U+0080..U+009F, e.g. the one-character
// CSI) and the bidirectional overrides and isolates (U+202A..U+202E,
// U+2066..U+2069, which reorder what a reader sees) become "\uNNNN".
// The result is one line of valid UTF-8 without control characters.
std::string printable(std::string_view bytes);

VSCARD_API_END
}  // namespace vscard
