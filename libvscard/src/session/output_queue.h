// SPDX-License-Identifier: LGPL-2.1-or-later
// The byte queue both sessions write into: encoded messages wait here until the
// program takes them with pending_output()/consume_output().
//
// Steady state must not allocate (an APDU answered per round trip), so the
// vector is only ever cleared, never shrunk: once it has grown to the largest
// burst the session produced, appending reuses its capacity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "vscard/message.h"

namespace vscard::session {

// Appends `message` to `out` (whose first `sent` bytes were already taken).
// False, and nothing appended, if the message exceeds `max_message_size`.
bool append_message(std::vector<std::uint8_t>& out, std::size_t& sent, const Message& message,
                    std::size_t max_message_size);

// Marks `n` more bytes as taken (clamped to what is pending) and reclaims the
// space of taken bytes without giving the capacity back.
void consume(std::vector<std::uint8_t>& out, std::size_t& sent, std::size_t n);

// Forgets everything pending (a new connection starts from nothing).
inline void discard(std::vector<std::uint8_t>& out, std::size_t& sent) {
  out.clear();
  sent = 0;
}

}  // namespace vscard::session
