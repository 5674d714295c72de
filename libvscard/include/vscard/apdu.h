// SPDX-License-Identifier: LGPL-2.1-or-later
// Command and response APDUs (ISO/IEC 7816-4 section 5): header, case, status words,
// and PIN redaction for logs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

// ISO 7816-4 5.1 (Table 1 and 5.2): the seven command cases.
enum class ApduCase { Case1, Case2Short, Case3Short, Case4Short, Case2Extended,
                      Case3Extended, Case4Extended };

std::string_view to_string(ApduCase c);

struct CommandApdu {
  std::uint8_t cla = 0, ins = 0, p1 = 0, p2 = 0;
  ApduCase kind = ApduCase::Case1;
  std::uint32_t nc = 0;       // command data length (Lc)
  std::uint32_t ne = 0;       // expected response length (Le; 256 or 65536 for Le=0)
  std::span<const std::uint8_t> data;  // view into the parsed bytes
};

// Parses a command APDU. Returns nullopt for bytes that fit no case (shorter
// than 4 bytes, Lc disagreeing with the length, an extended Lc of 0, ...).
std::optional<CommandApdu> parse_command_apdu(std::span<const std::uint8_t> bytes);

// The status word (SW1 << 8 | SW2) closing a response, or nullopt if shorter than 2.
std::optional<std::uint16_t> status_word(std::span<const std::uint8_t> response);

// 9000, or 61XX (more data available): the command completed.
constexpr bool sw_is_success(std::uint16_t sw) { return sw == 0x9000 || (sw >> 8) == 0x61; }

// Instructions whose data carries a PIN or PUK: VERIFY (20), CHANGE REFERENCE
// DATA (24), RESET RETRY COUNTER (2C), ISO 7816-4 11.5, and their odd-INS forms
// (21, 25, 2D), which carry the same secrets wrapped in BER-TLV data objects.
// Any CLA: proprietary classes reuse these INS codes for their PIN commands.
constexpr bool carries_pin(std::uint8_t ins) {
  const std::uint8_t even = ins & 0xFE;
  return even == 0x20 || even == 0x24 || even == 0x2C;
}

// Hex for logs ("00 A4 04 00 ..."). For a PIN-carrying command the data field is
// replaced by "<N bytes redacted>" unless `unredacted` is true.
std::string format_command_for_log(std::span<const std::uint8_t> command, bool unredacted = false);

// Plain uppercase hex, no separators ("00A40400").
std::string to_hex(std::span<const std::uint8_t> bytes);

// Parses hex, ignoring spaces, colons and tabs. nullopt on an odd digit count or a non-hex character.
std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text);

VSCARD_API_END
}  // namespace vscard
