// SPDX-License-Identifier: LGPL-2.1-or-later
// The constants of QEMU's VSCard protocol.
//
// Source of truth: libcacard's src/vscard_common.h (the protocol as shipped by
// QEMU's hw/usb/ccid-card-passthru.c and libcacard's vscclient), version
// MAKE_VERSION(0,0,2). See docs/protocol.md for the byte layout of each message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

// Every message starts with three big-endian uint32: type, reader_id, length.
inline constexpr std::size_t kHeaderSize = 12;

// QEMU's passthru device buffers at most VSCARD_IN_SIZE (65536) bytes of input,
// header included; libvscard uses it as the default per-message limit.
inline constexpr std::size_t kDefaultMaxMessageSize = 65536;

// The Init magic is the four bytes 'V' 'S' 'C' 'D' in this order on the wire
// (libcacard's VSCARD_MAGIC is built so that its memory image spells "VSCD").
// Read as a big-endian uint32 that is 0x56534344.
inline constexpr std::uint32_t kMagic = 0x56534344;

// Versions pack major/middle/minor into 11/11/10 bits (libcacard's MAKE_VERSION).
constexpr std::uint32_t make_version(std::uint32_t major, std::uint32_t middle,
                                     std::uint32_t minor) {
  return ((major & 0x7FFu) << 21) | ((middle & 0x7FFu) << 10) | (minor & 0x3FFu);
}
constexpr std::uint32_t version_major(std::uint32_t v) { return v >> 21; }
constexpr std::uint32_t version_middle(std::uint32_t v) { return (v >> 10) & 0x7FFu; }
constexpr std::uint32_t version_minor(std::uint32_t v) { return v & 0x3FFu; }

// The version QEMU and libcacard speak: MAKE_VERSION(0,0,2) == 2.
inline constexpr std::uint32_t kProtocolVersion = make_version(0, 0, 2);

// Message types, numbered as in libcacard's VSCMsgType (not the older wiki draft,
// which was never shipped). Reconnect is this project's extension (docs/protocol.md):
// it is only sent to a peer whose Init advertised kCapabilityReconnect.
enum class MessageType : std::uint32_t {
  Init = 1,
  Error = 2,
  ReaderAdd = 3,
  ReaderRemove = 4,
  Atr = 5,
  CardRemove = 6,
  Apdu = 7,
  Flush = 8,
  FlushComplete = 9,
  Reconnect = 10,
  CardControl = 11,
};

// Name of a message type ("Init", "APDU", ...), or "Unknown" for any other value.
std::string_view to_string(MessageType type);

// True if `raw` is one of the types above.
constexpr bool is_known_type(std::uint32_t raw) { return raw >= 1 && raw <= 11; }

// Error codes (libcacard's VSCErrorCode). The code travels as a big-endian uint32.
enum class ErrorCode : std::uint32_t {
  Success = 0,
  General = 1,
  CannotAddMoreReaders = 2,
  CardAlreadyInserted = 3,
};

// Name of an error code ("success", "general error", ...) or "unknown error code".
std::string_view to_string(ErrorCode code);

// Reader ids (libcacard's VSCARD_UNDEFINED_READER_ID / VSCARD_MINIMAL_READER_ID).
using ReaderId = std::uint32_t;
inline constexpr ReaderId kUndefinedReaderId = 0xFFFFFFFFu;
inline constexpr ReaderId kMinimalReaderId = 0;

// Capability bits of Init's first capability word. QEMU and libcacard send 0;
// a bit set here is only acted on when both peers' Inits carry it.
inline constexpr std::uint32_t kCapabilityReconnect = 1u << 0;
// CardControl (type 11): power and reader-session events host -> client.
inline constexpr std::uint32_t kCapabilityCardControl = 1u << 1;

// CardControl's event codes (one big-endian u32 payload; docs/protocol.md).
// Power events change the card's state and PowerOn/WarmReset are answered by
// the card's new ATR; the reader events only tell the card's owner that an
// application's session started or ended.
enum class CardControlEvent : std::uint32_t {
  PowerOff = 1,
  PowerOn = 2,           // cold reset (ISO 7816-3 6.2.2)
  WarmReset = 3,         // ISO 7816-3 6.2.3
  ReaderInUse = 4,
  ReaderNotInUse = 5,
  ReaderExclusive = 6,
};
constexpr bool is_known_card_control_event(std::uint32_t raw) { return raw >= 1 && raw <= 6; }
// True for the events the client answers with an ATR.
constexpr bool card_control_wants_atr(CardControlEvent e) {
  return e == CardControlEvent::PowerOn || e == CardControlEvent::WarmReset;
}
// "power off", "power on", "warm reset", "reader in use", ... or "unknown event".
std::string_view to_string(CardControlEvent event);

// Reconnect (extension): two NUL-padded 128-byte fields, host then port.
inline constexpr std::size_t kReconnectFieldSize = 128;

VSCARD_API_END
}  // namespace vscard
