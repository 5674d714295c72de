// SPDX-License-Identifier: LGPL-2.1-or-later
// Helpers shared by the libFuzzer targets.
//
// FUZZ_CHECK is an assertion that survives NDEBUG: a broken invariant must end
// the run as a crash (libFuzzer saves the input), never pass silently.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "vscard/decoder.h"
#include "vscard/message.h"

#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace vscard::fuzz {

// One decoder result reduced to comparable values: the status, the error, the
// header, and for a message its re-encoding (views into the input are not kept).
struct Outcome {
  DecodeStatus status;
  DecodeError error;
  std::uint32_t type, reader_id, length;
  std::vector<std::uint8_t> encoded;
  bool encoded_ok;

  friend bool operator==(const Outcome&, const Outcome&) = default;
};

inline Outcome outcome_of(const Decoded& d) {
  Outcome o{d.status, d.error, d.header.type, d.header.reader_id, d.header.length, {}, false};
  if (d.status == DecodeStatus::Message) {
    // Large limit: this records what the message is, the size rule is tested apart.
    o.encoded_ok = encode(d.message, o.encoded, 1u << 20);
  }
  return o;
}

}  // namespace vscard::fuzz
