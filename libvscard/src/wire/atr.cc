// SPDX-License-Identifier: LGPL-2.1-or-later
// ATR parsing per ISO/IEC 7816-3:2006 section 8, and QEMU's acceptance rule.
#include "vscard/atr.h"

#include <bit>

namespace vscard {
namespace {

// TS values (ISO 7816-3 8.1): direct and inverse convention, as decoded by the reader.
constexpr std::uint8_t kTsDirect = 0x3B;
constexpr std::uint8_t kTsInverse = 0x3F;

// Presence bits in the high nibble of T0 and of every TDi (ISO 7816-3 8.2.2):
// TA(i+1), TB(i+1), TC(i+1), TD(i+1).
constexpr unsigned kTaPresent = 0x1, kTbPresent = 0x2, kTcPresent = 0x4, kTdPresent = 0x8;

// T=15 in a TDi announces global interface bytes, not a protocol (ISO 7816-3 8.2.3).
constexpr unsigned kGlobalT = 15;

std::optional<AtrInfo> fail(AtrError* error, AtrError why) {
  if (error) *error = why;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(AtrError error) {
  switch (error) {
    case AtrError::None: return "no error";
    case AtrError::Empty: return "ATR is empty";
    case AtrError::BadTs: return "ATR initial byte TS is neither 3B nor 3F";
    case AtrError::Truncated: return "ATR is shorter than its format bytes announce";
    case AtrError::TooLong: return "ATR has bytes beyond its structure or exceeds 33 bytes";
    case AtrError::MissingTck: return "ATR offers a protocol other than T=0 but has no TCK";
    case AtrError::BadTck: return "ATR check byte TCK is wrong";
    case AtrError::T15InTd1: return "ATR's TD1 indicates T=15, which is invalid there";
  }
  return "unknown ATR error";
}

std::optional<AtrInfo> parse_atr(std::span<const std::uint8_t> atr, AtrError* error) {
  if (error) *error = AtrError::None;
  if (atr.empty()) return fail(error, AtrError::Empty);
  AtrInfo info;
  if (atr[0] != kTsDirect && atr[0] != kTsInverse) return fail(error, AtrError::BadTs);
  info.inverse_convention = atr[0] == kTsInverse;
  if (atr.size() < 2) return fail(error, AtrError::Truncated);
  if (atr.size() > kIsoMaxAtrSize) return fail(error, AtrError::TooLong);

  const std::size_t historical_count = atr[1] & 0x0F;
  unsigned presence = atr[1] >> 4;
  std::size_t pos = 2;
  bool any_td = false;
  // TCK is present unless only T=0 is indicated (ISO 7816-3 8.2.5).
  bool tck_required = false;

  // Group i holds TAi..TDi; T0 announces group 1, TDi announces group i+1.
  for (unsigned group = 1;; ++group) {
    for (unsigned bit : {kTaPresent, kTbPresent, kTcPresent}) {
      if ((presence & bit) == 0) continue;
      if (pos >= atr.size()) return fail(error, AtrError::Truncated);
      const std::uint8_t value = atr[pos++];
      if (group == 1 && bit == kTaPresent) info.ta1 = value;
      if (group == 1 && bit == kTbPresent) info.tb1 = value;
      if (group == 1 && bit == kTcPresent) info.tc1 = value;
      if (group == 2 && bit == kTaPresent) info.ta2 = value;
    }
    if ((presence & kTdPresent) == 0) break;
    if (pos >= atr.size()) return fail(error, AtrError::Truncated);
    const std::uint8_t td = atr[pos++];
    any_td = true;
    const unsigned t = td & 0x0F;
    // ISO 7816-3 8.2.3: T=15 is invalid in TD1 (found by tests/fuzz/atr_fuzzer:
    // 3B 80 3F 3F 80 00 parsed as an ATR offering no protocol at all).
    if (group == 1 && t == kGlobalT) return fail(error, AtrError::T15InTd1);
    if (t != 0) tck_required = true;
    if (t != kGlobalT) info.protocols |= static_cast<std::uint16_t>(1u << t);
    presence = td >> 4;
  }
  // Without TD1 the card speaks T=0 only (ISO 7816-3 8.2.3).
  if (!any_td) info.protocols = 1u << 0;

  if (atr.size() - pos < historical_count) return fail(error, AtrError::Truncated);
  info.historical = atr.subspan(pos, historical_count);
  pos += historical_count;

  if (tck_required) {
    if (pos == atr.size()) return fail(error, AtrError::MissingTck);
    ++pos;
  }
  if (pos != atr.size()) return fail(error, AtrError::TooLong);
  if (tck_required) {
    // XOR of every byte from T0 to TCK inclusive is zero (ISO 7816-3 8.2.5).
    std::uint8_t x = 0;
    for (std::size_t i = 1; i < atr.size(); ++i) x ^= atr[i];
    if (x != 0) return fail(error, AtrError::BadTck);
    info.has_tck = true;
  }
  return info;
}

// QEMU 7.2, hw/usb/ccid-card-passthru.c: an ATR message is refused (Error
// general) when its payload exceeds MAX_ATR_SIZE (40) bytes, or when check_atr()
// says no. check_atr()'s rule, restated:
//
//   1. At least 2 bytes, and the first is 3B or 3F.
//   2. K = low nibble of byte 1 (historical byte count), Y = its high nibble.
//      Count "optional" bytes in at most two rounds, and only while
//      2 + K + counted < length and Y != 0:
//        counted += number of bits set in Y (the TD bit included);
//        if Y has the TD bit, Y becomes the high nibble of the byte at index
//        2 + counted, i.e. the byte *after* the TD byte just counted;
//        otherwise Y stays the same and the next round counts it again.
//   3. Accept iff 2 + K + counted <= length. Surplus bytes are let through.
//
// How this differs from ISO 7816-3:
//   - TCK is never looked at: a wrong or missing TCK passes, and so does any
//     trailing junk as long as the count above does not overshoot.
//   - Only two presence nibbles are followed, and the second one is read from
//     the wrong byte (one past TD1), so interface bytes from TA2 on are
//     effectively guessed. An ISO-valid ATR can be refused when the byte after
//     TD1 has many high bits set (3B 81 01 F0 70), and a truncated one can pass
//     when the walk stops early (3B 80, which announces a TD1 it does not carry).
//   - With no TD1, a surplus byte makes the T0 nibble count twice, so a few
//     surplus bytes are refused where others are not (3B 70 11 00 00 FF).
//   - Up to 40 bytes are allowed where ISO stops at 33.
// The walk only reads a byte past the ATR when the loop condition then stops it
// anyway, so the outcome depends on the ATR's bytes alone; we never read past.
bool qemu_accepts_atr(std::span<const std::uint8_t> atr) {
  const std::size_t length = atr.size();
  if (length > kQemuMaxAtrSize || length < 2) return false;
  if (atr[0] != kTsDirect && atr[0] != kTsInverse) return false;

  const std::size_t historical_count = atr[1] & 0x0F;
  unsigned presence = atr[1] >> 4;
  std::size_t counted = 0;
  for (int round = 0; round < 2 && presence != 0 && 2 + historical_count + counted < length;
       ++round) {
    counted += static_cast<std::size_t>(std::popcount(presence));
    if (presence & kTdPresent) {
      const std::size_t next = 2 + counted;
      presence = next < length ? atr[next] >> 4 : 0;
    }
  }
  return 2 + historical_count + counted <= length;
}

std::string protocols_to_string(const AtrInfo& info) {
  std::string out;
  for (unsigned t = 0; t < 16; ++t) {
    if (!info.offers(t)) continue;
    if (!out.empty()) out += ',';
    out += "T=" + std::to_string(t);
  }
  return out.empty() ? "none" : out;
}

}  // namespace vscard
