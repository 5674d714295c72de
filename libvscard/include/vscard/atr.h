// SPDX-License-Identifier: LGPL-2.1-or-later
// Answer-To-Reset parsing (ISO/IEC 7816-3 section 8) and QEMU's ATR acceptance rule.
//
// Two separate questions, two functions:
//  - parse_atr(): is this a well-formed ATR per ISO 7816-3, and what does it offer?
//    For logs, reports and vschost's strict mode.
//  - qemu_accepts_atr(): would QEMU 7.2's ccid-card-passthru take it? QEMU's rule
//    is looser in some places and stricter in others (see atr.cc), so a host that
//    must behave exactly like QEMU uses this one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

// ISO 7816-3 limits an ATR to 33 bytes (TS included).
inline constexpr std::size_t kIsoMaxAtrSize = 33;

// QEMU's passthru copies at most 40 ATR bytes (ccid-card-passthru.c, MAX_ATR_SIZE).
inline constexpr std::size_t kQemuMaxAtrSize = 40;

enum class AtrError {
  None,
  Empty,
  BadTs,              // TS is neither 0x3B (direct) nor 0x3F (inverse)
  Truncated,          // fewer bytes than T0/TDi/K announce
  TooLong,            // more bytes than the structure (and TCK) account for, or > 33
  MissingTck,         // a protocol other than T=0 is offered but TCK is absent
  BadTck,             // XOR of T0..TCK is not zero
  T15InTd1,           // TD1 indicates T=15, which ISO 7816-3 8.2.3 makes invalid there
                      // (an ATR must offer a protocol before global bytes)
};

// One line for logs, e.g. "ATR check byte TCK is wrong".
std::string_view to_string(AtrError error);

struct AtrInfo {
  bool inverse_convention = false;  // TS == 0x3F
  // Bit n set when protocol T=n is offered by a TDi; T=0 is implicit when no
  // TD1 is present (ISO 7816-3 8.2.3). T=15 only introduces global interface
  // bytes and is not a protocol, so bit 15 is never set.
  std::uint16_t protocols = 0;
  std::optional<std::uint8_t> ta1, tb1, tc1, ta2;
  std::span<const std::uint8_t> historical;  // view into the parsed ATR
  bool has_tck = false;

  bool offers(unsigned t) const { return t < 16 && (protocols & (1u << t)) != 0; }
};

// Parses and validates `atr` strictly per ISO 7816-3. The returned
// `historical` view points into `atr`. On failure `*error` (if given) says why;
// on success it is set to AtrError::None.
std::optional<AtrInfo> parse_atr(std::span<const std::uint8_t> atr, AtrError* error = nullptr);

// Exactly what QEMU 7.2's ccid-card-passthru accepts in an ATR message: its
// check_atr() rule and the 40-byte cap (it answers Error(success) when true,
// Error(general) when false). Used by HostSession's QEMU-exact policy.
bool qemu_accepts_atr(std::span<const std::uint8_t> atr);

// "T=0", "T=1", "T=0,T=1", ... for logs and reports ("none" if no bit is set).
std::string protocols_to_string(const AtrInfo& info);

VSCARD_API_END
}  // namespace vscard
