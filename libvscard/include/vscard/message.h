// SPDX-License-Identifier: LGPL-2.1-or-later
// Typed VSCard messages and their encoder.
//
// Messages are small value types. Payload-bearing fields (ReaderAdd's name, ATR
// and APDU bytes, Reconnect's strings, an Unknown message's payload) are views:
// a decoded message's views point into the Decoder's buffer or into the bytes
// that were fed to it, and stay valid until the next call to Decoder::next().
//
// Who sends what (libcacard's vscard_common.h; docs/protocol.md tables it):
//   both ways       Init (each side once, the client first), Error, APDU
//                   (host -> client: a command; client -> host: its response)
//   client -> host  ReaderAdd, ReaderRemove, ATR, CardRemove, FlushComplete
//   host -> client  Flush, Reconnect (extension, only after both Inits carry
//                   kCapabilityReconnect)
// Ordering rules the sessions enforce:
//   - the host answers ReaderAdd, ATR, CardRemove and ReaderRemove with Error,
//     in the order it received them: every Error answers the oldest request not
//     yet answered (ClientSession matches them so; QEMU answers in order);
//   - one ReaderAdd outstanding at a time; a successful one's Error(success)
//     carries the new reader id in its header;
//   - the host sends one APDU per reader at a time; the client answers each
//     with an APDU (the response) or an Error, in order;
//   - a Flush is answered by FlushComplete once every APDU received before it
//     has been answered.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "vscard/protocol.h"
#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

using Bytes = std::span<const std::uint8_t>;

// Init's capability words. The protocol lets the array grow; the first
// kMaxCapabilityWords are kept and `count` says how many the peer sent.
struct Capabilities {
  static constexpr std::size_t kMaxCapabilityWords = 4;
  std::array<std::uint32_t, kMaxCapabilityWords> words{};
  std::uint32_t count = 1;

  // True if bit `bit` of word `word` is set.
  bool has(std::uint32_t bit, std::size_t word = 0) const {
    return word < count && word < kMaxCapabilityWords && (words[word] & bit) != 0;
  }
  friend bool operator==(const Capabilities&, const Capabilities&) = default;
};

struct Init {
  std::uint32_t magic = kMagic;
  std::uint32_t version = kProtocolVersion;
  Capabilities capabilities{};
};

// The code is kept raw: a peer may send a value outside ErrorCode.
struct Error {
  std::uint32_t code = 0;
  ErrorCode error_code() const { return static_cast<ErrorCode>(code); }
};

// libcacard sends no name; this project sends the reader's name as UTF-8
// without a terminating NUL (a received trailing NUL is stripped).
struct ReaderAdd {
  std::string_view name;
};
struct ReaderRemove {};
struct Atr {
  Bytes atr;
};
struct CardRemove {};
struct Apdu {
  Bytes data;
};
struct Flush {};
struct FlushComplete {};
// Extension: the host asks the client to move to host:port.
struct Reconnect {
  std::string_view host;
  std::string_view port;
};
// Extension: a power or reader-session event for the card in a reader. The
// code is kept raw: a peer may send a value outside CardControlEvent.
struct CardControl {
  std::uint32_t code = 0;
  CardControlEvent event() const { return static_cast<CardControlEvent>(code); }
};
// Any type number this library does not know; QEMU answers it with Error(general).
struct Unknown {
  std::uint32_t type = 0;
  Bytes payload;
};

using Body = std::variant<Init, Error, ReaderAdd, ReaderRemove, Atr, CardRemove, Apdu,
                          Flush, FlushComplete, Reconnect, CardControl, Unknown>;

struct Message {
  ReaderId reader_id = kUndefinedReaderId;
  Body body;

  // The type number on the wire (Unknown keeps its own).
  std::uint32_t type() const;
};

// Payload size of `message` on the wire (header excluded).
std::size_t payload_size(const Message& message);

// Appends `message`'s wire bytes to `out`. Returns false, and appends nothing, if
// header plus payload would exceed `max_message_size`, or a Reconnect field is
// 128 bytes or longer or holds a NUL. Appending to a buffer whose capacity is
// already large enough does not allocate.
[[nodiscard]] bool encode(const Message& message, std::vector<std::uint8_t>& out,
                          std::size_t max_message_size = kDefaultMaxMessageSize);

VSCARD_API_END
}  // namespace vscard
