// SPDX-License-Identifier: LGPL-2.1-or-later
// Incremental VSCard decoder: bytes in, whole typed messages out.
//
// Feed it bytes split at any boundary, one byte at a time included:
//
//   vscard::Decoder decoder;
//   vscard::Bytes input = bytes_from_socket;
//   for (;;) {
//     vscard::Decoded d = decoder.next(input);   // advances `input`
//     if (d.status == vscard::DecodeStatus::NeedMoreInput) break;
//     ...
//   }
//
// Memory: the decoder holds at most one message (max_message_size bytes); when a
// whole message lies in the input it is returned as a view into the input without
// copying. A length over the limit is refused from the header alone.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "vscard/message.h"
#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

enum class DecodeStatus {
  NeedMoreInput,  // all input consumed, no complete message yet
  Message,        // `message` holds the next message
  Malformed,      // one message was malformed; framing is intact, decoding goes on
  Fatal,          // the stream cannot be decoded further (every later call repeats it)
};

enum class DecodeError {
  None,
  MessageTooLarge,         // fatal: header length + 12 exceeds max_message_size
  InitTooShort,            // Init payload under magic + version + one capability
  InitBadLength,           // Init payload not a whole number of 32-bit words
  BadMagic,                // Init magic is not "VSCD"
  ErrorBadLength,          // Error payload is not exactly 4 bytes
  ReaderNameNotUtf8,       // ReaderAdd name is not valid UTF-8 (or holds a NUL)
  ReconnectBadLength,      // Reconnect payload is not 2 x 128 bytes
  ReconnectNotTerminated,  // a Reconnect field has no NUL terminator
  CardControlBadLength,    // CardControl payload is not exactly 4 bytes
};

// One line for logs, e.g. "Init magic is not VSCD".
std::string_view to_string(DecodeError error);

// The header of the message a Malformed or Fatal result refers to, so the
// session above can answer it (QEMU answers even a malformed Init).
struct DecodedHeader {
  std::uint32_t type = 0;
  ReaderId reader_id = 0;
  std::uint32_t length = 0;
};

struct Decoded {
  DecodeStatus status = DecodeStatus::NeedMoreInput;
  Message message{};               // valid when status == Message
  DecodeError error = DecodeError::None;  // valid when Malformed or Fatal
  DecodedHeader header{};          // valid when Message, Malformed or Fatal
};

class Decoder {
 public:
  explicit Decoder(std::size_t max_message_size = kDefaultMaxMessageSize);

  // Consumes bytes from the front of `input` (advancing it) until one message is
  // complete or `input` is empty. Views in the result stay valid until the next
  // call to next() or reset(), and as long as the input bytes they may point into.
  Decoded next(Bytes& input);

  // Bytes of a message begun but not complete (header included).
  std::size_t buffered() const { return buffer_.size(); }
  std::size_t max_message_size() const { return max_message_size_; }
  bool failed() const { return fatal_ != DecodeError::None; }

  // Forgets any partial message and a fatal error.
  void reset();

 private:
  std::size_t max_message_size_;
  std::vector<std::uint8_t> buffer_;  // a partial message, header first
  DecodedHeader fatal_header_{};
  DecodeError fatal_ = DecodeError::None;
};

VSCARD_API_END
}  // namespace vscard
