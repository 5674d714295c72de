// SPDX-License-Identifier: LGPL-2.1-or-later
// ATR tests: real ATRs with their protocols, every ISO 7816-3 error, and QEMU
// 7.2's acceptance rule case by case (hw/usb/ccid-card-passthru.c, check_atr()
// and MAX_ATR_SIZE; see the rule restated in libvscard/src/wire/atr.cc).
#include <gtest/gtest.h>

#include <vector>

#include "vscard/apdu.h"
#include "vscard/atr.h"

namespace vscard {
namespace {

std::vector<std::uint8_t> hex(std::string_view text) {
  auto bytes = from_hex(text);
  EXPECT_TRUE(bytes.has_value()) << text;
  return bytes.value_or(std::vector<std::uint8_t>{});
}

AtrError error_of(const std::vector<std::uint8_t>& atr) {
  AtrError error = AtrError::None;
  EXPECT_FALSE(parse_atr(atr, &error).has_value()) << to_hex(atr);
  return error;
}

// QEMU's DEFAULT_ATR in ccid-card-passthru.c ("From an Athena smart card"): what
// the guest sees before a client sends an ATR.
const char* const kAthena = "3B D5 18 FF 80 91 FE 1F C3 80 73 C8 21 13 08";
// libcacard src/cac.c cac_atr ("The older CAC card from official CAC document").
const char* const kLibcacardCac = "3B 7A 18 00 00 73 66 74 65 20 63 64 31 34 34";
// libcacard src/vcardt.c vcard_alloc_atr("NSS"): TS, T0 = TD-present + 9, TD1 = 00,
// then "VCARD_NSS"; the ATR QEMU's ccid-card-emulated presents.
const char* const kLibcacardNss = "3B 89 00 56 43 41 52 44 5F 4E 53 53";
// vsmartcard vicc -t iso7816 (VirtualSmartcard.py, makeATR(T=1, TA1=0x13, ...)).
const char* const kViccIso7816 = "3B 95 13 81 01 80 73 FF 01 00 0B";

TEST(Atr, AthenaOffersT0AndT1WithGlobalBytes) {
  const auto atr = hex(kAthena);
  AtrError error = AtrError::BadTck;
  auto info = parse_atr(atr, &error);
  ASSERT_TRUE(info.has_value()) << to_string(error);
  EXPECT_EQ(error, AtrError::None);
  EXPECT_FALSE(info->inverse_convention);
  EXPECT_TRUE(info->offers(0));
  EXPECT_TRUE(info->offers(1));
  EXPECT_FALSE(info->offers(15));  // TD3's T=15 introduces global bytes only
  EXPECT_EQ(protocols_to_string(*info), "T=0,T=1");
  EXPECT_EQ(info->ta1, 0x18);
  EXPECT_FALSE(info->tb1.has_value());
  EXPECT_EQ(info->tc1, 0xFF);
  EXPECT_FALSE(info->ta2.has_value());
  EXPECT_EQ(to_hex(info->historical), "8073C82113");
  EXPECT_TRUE(info->has_tck);
  EXPECT_TRUE(qemu_accepts_atr(atr));
}

TEST(Atr, LibcacardCacIsT0WithoutTck) {
  const auto atr = hex(kLibcacardCac);
  auto info = parse_atr(atr);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(protocols_to_string(*info), "T=0");
  EXPECT_EQ(info->ta1, 0x18);
  EXPECT_EQ(info->tb1, 0x00);
  EXPECT_EQ(info->tc1, 0x00);
  EXPECT_FALSE(info->has_tck);
  EXPECT_EQ(std::string(info->historical.begin(), info->historical.end()), "sfte cd144");
  EXPECT_TRUE(qemu_accepts_atr(atr));
}

TEST(Atr, LibcacardNssIsT0ByTd1) {
  const auto atr = hex(kLibcacardNss);
  auto info = parse_atr(atr);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(protocols_to_string(*info), "T=0");
  EXPECT_FALSE(info->has_tck);
  EXPECT_EQ(std::string(info->historical.begin(), info->historical.end()), "VCARD_NSS");
  EXPECT_TRUE(qemu_accepts_atr(atr));
}

TEST(Atr, ViccIso7816IsT1) {
  const auto atr = hex(kViccIso7816);
  auto info = parse_atr(atr);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(protocols_to_string(*info), "T=1");
  EXPECT_FALSE(info->offers(0));
  EXPECT_EQ(info->ta1, 0x13);
  EXPECT_TRUE(info->has_tck);
  EXPECT_EQ(to_hex(info->historical), "8073FF0100");
  EXPECT_TRUE(qemu_accepts_atr(atr));
}

TEST(Atr, InverseConventionAndMinimalAtr) {
  auto info = parse_atr(hex("3F 00"));
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->inverse_convention);
  EXPECT_EQ(protocols_to_string(*info), "T=0");  // no TD1: T=0 implied
  EXPECT_TRUE(info->historical.empty());
  EXPECT_TRUE(qemu_accepts_atr(hex("3F 00")));
}

TEST(Atr, Ta2IsRecorded) {
  // T0: TD1; TD1: TA2 + TD2, T=0; TA2 = 01 (specific mode T=1); TD2: T=1; TCK.
  auto info = parse_atr(hex("3B 80 90 01 01 10"));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->ta2, 0x01);
  EXPECT_EQ(protocols_to_string(*info), "T=0,T=1");
}

TEST(Atr, IsoErrors) {
  EXPECT_EQ(error_of({}), AtrError::Empty);
  EXPECT_EQ(error_of(hex("3C 00")), AtrError::BadTs);
  EXPECT_EQ(error_of(hex("3B")), AtrError::Truncated);
  // T0 announces 5 historical bytes, 4 present.
  EXPECT_EQ(error_of(hex("3B 05 01 02 03 04")), AtrError::Truncated);
  // T0 announces TD1, missing.
  EXPECT_EQ(error_of(hex("3B 80")), AtrError::Truncated);
  // TD1 announces TA2, missing (and TCK with it).
  EXPECT_EQ(error_of(hex("3B 80 11")), AtrError::Truncated);
  // T=0 only: no TCK allowed, so a byte after the historical bytes is too many.
  EXPECT_EQ(error_of(hex("3B 01 AA BB")), AtrError::TooLong);
  // T=1 offered: TCK required.
  EXPECT_EQ(error_of(hex("3B 81 01 F0")), AtrError::MissingTck);
  EXPECT_EQ(error_of(hex("3B 95 13 81 01 80 73 FF 01 00 0C")), AtrError::BadTck);
  // One byte beyond TCK.
  EXPECT_EQ(error_of(hex("3B 95 13 81 01 80 73 FF 01 00 0B 00")), AtrError::TooLong);
  // TD1 indicating T=15 (found by atr_fuzzer: it parsed as offering no protocol).
  EXPECT_EQ(error_of(hex("3B 80 3F 3F 80 00")), AtrError::T15InTd1);
  EXPECT_EQ(error_of(hex("3B 80 0F 8F")), AtrError::T15InTd1);
  // ISO 7816-3 caps an ATR at 33 bytes; 34 is refused whatever it holds.
  std::vector<std::uint8_t> long_atr(34, 0x00);
  long_atr[0] = 0x3B;
  long_atr[1] = 0x0F;
  EXPECT_EQ(error_of(long_atr), AtrError::TooLong);
}

TEST(Atr, EveryTruncationOfRealAtrsIsRejected) {
  for (const char* text : {kAthena, kLibcacardCac, kLibcacardNss, kViccIso7816}) {
    const auto atr = hex(text);
    for (std::size_t n = 0; n < atr.size(); ++n) {
      std::span<const std::uint8_t> prefix(atr.data(), n);
      AtrError error = AtrError::None;
      EXPECT_FALSE(parse_atr(prefix, &error).has_value()) << text << " cut at " << n;
      EXPECT_NE(error, AtrError::None);
    }
  }
}

TEST(Atr, ErrorStringsAreDistinct) {
  EXPECT_EQ(to_string(AtrError::BadTck), "ATR check byte TCK is wrong");
  EXPECT_NE(to_string(AtrError::Truncated), to_string(AtrError::TooLong));
}

// ---- QEMU 7.2's rule, one test per branch of check_atr() / the size cap ----

TEST(QemuAtr, RefusesUnderTwoBytes) {
  // check_atr: "if (len < 2) return 0".
  EXPECT_FALSE(qemu_accepts_atr({}));
  EXPECT_FALSE(qemu_accepts_atr(hex("3B")));
}

TEST(QemuAtr, RefusesTsOtherThan3Bor3F) {
  EXPECT_FALSE(qemu_accepts_atr(hex("3C 00")));
  EXPECT_FALSE(qemu_accepts_atr(hex("00 00")));
  EXPECT_TRUE(qemu_accepts_atr(hex("3B 00")));
  EXPECT_TRUE(qemu_accepts_atr(hex("3F 00")));
}

TEST(QemuAtr, CapsAtFortyBytes) {
  // ccid_card_vscard_handle_message: length > MAX_ATR_SIZE (40) is refused before
  // check_atr runs; surplus bytes are otherwise "let through".
  std::vector<std::uint8_t> atr = hex("3B 00");
  atr.resize(40, 0xEE);
  EXPECT_TRUE(qemu_accepts_atr(atr));
  EXPECT_FALSE(parse_atr(atr).has_value());  // ISO: beyond 33 bytes
  atr.push_back(0xEE);
  EXPECT_FALSE(qemu_accepts_atr(atr));
}

TEST(QemuAtr, RefusesMissingHistoricalBytes) {
  // "atr too short": fewer than 2 + K bytes.
  EXPECT_FALSE(qemu_accepts_atr(hex("3B 05 01 02 03 04")));
  EXPECT_TRUE(qemu_accepts_atr(hex("3B 05 01 02 03 04 05")));
}

TEST(QemuAtr, IgnoresTck) {
  // check_atr never computes TCK: a wrong or missing one passes.
  EXPECT_TRUE(qemu_accepts_atr(hex("3B 95 13 81 01 80 73 FF 01 00 0C")));
  EXPECT_TRUE(qemu_accepts_atr(hex("3B 95 13 81 01 80 73 FF 01 00")));
}

TEST(QemuAtr, LetsSurplusBytesThrough) {
  // "atr too long ... let it through".
  EXPECT_TRUE(qemu_accepts_atr(hex("3B 01 AA BB CC")));
  EXPECT_TRUE(qemu_accepts_atr(hex("3B 95 13 81 01 80 73 FF 01 00 0B 00 00")));
}

TEST(QemuAtr, AcceptsAtrStoppingBeforeAnnouncedTd1) {
  // The walk only runs while 2 + K + counted < length, so "3B 80" (TD1 announced,
  // absent) is never walked and passes; ISO calls it truncated.
  EXPECT_TRUE(qemu_accepts_atr(hex("3B 80")));
  EXPECT_EQ(error_of(hex("3B 80")), AtrError::Truncated);
}

TEST(QemuAtr, ReadsSecondNibbleOneBytePastTd1) {
  // ISO-valid: T0 = 81 (TD1, K=1), TD1 = 01 (T=1), historical F0, TCK 70.
  // QEMU takes the next presence nibble from the byte after TD1 (F0 -> F), counts
  // four more interface bytes, needs 8 bytes and refuses the 5 it got.
  const auto atr = hex("3B 81 01 F0 70");
  EXPECT_TRUE(parse_atr(atr).has_value());
  EXPECT_FALSE(qemu_accepts_atr(atr));
  // Same shape with historical byte 00: the misread nibble is 0, the walk stops.
  const auto ok = hex("3B 81 01 00 80");
  EXPECT_TRUE(parse_atr(ok).has_value());
  EXPECT_TRUE(qemu_accepts_atr(ok));
}

TEST(QemuAtr, FollowsAtMostTwoPresenceNibbles) {
  // TD1 -> TD2 -> TD3 chain with T=1 everywhere: QEMU counts T0's group (TD1) and
  // the group from the byte after TD1 (TD2 = 81: TD3), i.e. 2 bytes, then stops;
  // the rest is surplus and let through.
  const auto atr = hex("3B 80 81 81 01 81");
  ASSERT_TRUE(parse_atr(atr).has_value());
  EXPECT_TRUE(qemu_accepts_atr(atr));
}

TEST(QemuAtr, CountsT0NibbleTwiceWithoutTd1) {
  // T0 = 70 (TA1 TB1 TC1, no TD1): with a surplus byte the loop runs a second
  // round over the same nibble and wants 3 more bytes than exist.
  EXPECT_TRUE(qemu_accepts_atr(hex("3B 70 11 00 00")));
  EXPECT_FALSE(qemu_accepts_atr(hex("3B 70 11 00 00 FF")));
  // ... while T0 = 10 (TA1 only) with one surplus byte still fits the double count.
  EXPECT_TRUE(qemu_accepts_atr(hex("3B 10 11 FF")));
}

TEST(QemuAtr, EveryTruncationOfRealAtrs) {
  // Whatever the walk does, fewer than 2 + K bytes can never pass ("atr too short"),
  // and each whole real ATR passes.
  for (const char* text : {kAthena, kLibcacardCac, kLibcacardNss, kViccIso7816}) {
    const auto atr = hex(text);
    EXPECT_TRUE(qemu_accepts_atr(atr)) << text;
    const std::size_t k = atr[1] & 0x0F;
    for (std::size_t n = 0; n < 2 + k && n < atr.size(); ++n) {
      EXPECT_FALSE(qemu_accepts_atr(std::span(atr.data(), n))) << text << " cut at " << n;
    }
  }
}

TEST(QemuAtr, AthenaCutPoints) {
  // Athena: K = 5, T0 nibble D (TA1 TC1 TD1) = 3 bytes; the second nibble comes
  // from the byte after TD1 (index 5, 0x91 -> 9: 2 more bytes). A prefix of n bytes
  // passes iff the walk's total fits: n = 7 runs no round (needs 7), n = 8..10 run
  // one round (need 10), n >= 11 run two (need 12).
  const auto atr = hex(kAthena);
  auto accepts = [&](std::size_t n) { return qemu_accepts_atr(std::span(atr.data(), n)); };
  EXPECT_FALSE(accepts(6));
  EXPECT_TRUE(accepts(7));
  EXPECT_FALSE(accepts(8));
  EXPECT_FALSE(accepts(9));
  EXPECT_TRUE(accepts(10));
  EXPECT_FALSE(accepts(11));
  EXPECT_TRUE(accepts(12));
  EXPECT_TRUE(accepts(15));
}

}  // namespace
}  // namespace vscard
