// SPDX-License-Identifier: LGPL-2.1-or-later
#include "session/output_queue.h"

#include <algorithm>

namespace vscard::session {

// Taken bytes are moved out of the way only past this size, so a program that
// writes a few bytes at a time does not pay a memmove per call.
constexpr std::size_t kCompactThreshold = 4096;

bool append_message(std::vector<std::uint8_t>& out, std::size_t& sent, const Message& message,
                    std::size_t max_message_size) {
  if (sent == out.size()) discard(out, sent);
  return encode(message, out, max_message_size);
}

void consume(std::vector<std::uint8_t>& out, std::size_t& sent, std::size_t n) {
  sent += std::min(n, out.size() - sent);
  if (sent == out.size()) {
    discard(out, sent);
  } else if (sent >= kCompactThreshold && sent * 2 >= out.size()) {
    out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(sent));
    sent = 0;
  }
}

}  // namespace vscard::session
