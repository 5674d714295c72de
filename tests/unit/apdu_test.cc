// SPDX-License-Identifier: LGPL-2.1-or-later
// APDU tests: every command case of ISO 7816-4 5.1 (short and extended), malformed
// commands, status words, PIN redaction and the hex helpers.
#include <gtest/gtest.h>

#include <vector>

#include "vscard/apdu.h"

namespace vscard {
namespace {

std::vector<std::uint8_t> hex(std::string_view text) {
  auto bytes = from_hex(text);
  EXPECT_TRUE(bytes.has_value()) << text;
  return bytes.value_or(std::vector<std::uint8_t>{});
}

// The result's data view points into `bytes`: callers that look at it keep the
// vector alive.
std::optional<CommandApdu> parse(const std::vector<std::uint8_t>& bytes) {
  return parse_command_apdu(bytes);
}

TEST(Apdu, Case1) {
  const auto bytes = hex("00 A4 04 00");
  auto a = parse(bytes);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ApduCase::Case1);
  EXPECT_EQ(a->cla, 0x00);
  EXPECT_EQ(a->ins, 0xA4);
  EXPECT_EQ(a->p1, 0x04);
  EXPECT_EQ(a->p2, 0x00);
  EXPECT_EQ(a->nc, 0u);
  EXPECT_EQ(a->ne, 0u);
  EXPECT_TRUE(a->data.empty());
}

TEST(Apdu, Case2Short) {
  auto a = parse(hex("00 CA 01 00 10"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ApduCase::Case2Short);
  EXPECT_EQ(a->ne, 16u);
  // Le = 00 means 256 (ISO 7816-4 5.1).
  a = parse(hex("00 B0 00 00 00"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ApduCase::Case2Short);
  EXPECT_EQ(a->ne, 256u);
}

TEST(Apdu, Case3Short) {
  const auto bytes = hex("00 A4 04 00 02 3F 00");
  auto a = parse(bytes);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ApduCase::Case3Short);
  EXPECT_EQ(a->nc, 2u);
  EXPECT_EQ(a->ne, 0u);
  EXPECT_EQ(to_hex(a->data), "3F00");
  EXPECT_EQ(a->data.data(), bytes.data() + 5);  // a view, not a copy
}

TEST(Apdu, Case4Short) {
  const auto bytes = hex("00 A4 04 00 07 A0 00 00 00 03 10 10 00");
  auto a = parse(bytes);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ApduCase::Case4Short);
  EXPECT_EQ(a->nc, 7u);
  EXPECT_EQ(a->ne, 256u);
  EXPECT_EQ(to_hex(a->data), "A0000000031010");
}

TEST(Apdu, Case3ShortWith255Bytes) {
  std::vector<std::uint8_t> bytes = hex("80 DA 01 00 FF");
  bytes.resize(5 + 255, 0x5A);
  auto a = parse(bytes);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ApduCase::Case3Short);
  EXPECT_EQ(a->nc, 255u);
}

TEST(Apdu, Case2Extended) {
  auto a = parse(hex("00 B0 00 00 00 01 00"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ApduCase::Case2Extended);
  EXPECT_EQ(a->ne, 256u);
  // Extended Le = 0000 means 65536.
  a = parse(hex("00 B0 00 00 00 00 00"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ApduCase::Case2Extended);
  EXPECT_EQ(a->ne, 65536u);
}

TEST(Apdu, Case3Extended) {
  std::vector<std::uint8_t> bytes = hex("00 D6 00 00 00 01 2C");
  bytes.resize(7 + 300, 0xA5);
  auto a = parse(bytes);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ApduCase::Case3Extended);
  EXPECT_EQ(a->nc, 300u);
  EXPECT_EQ(a->ne, 0u);
  EXPECT_EQ(a->data.data(), bytes.data() + 7);
  EXPECT_EQ(a->data.size(), 300u);
}

TEST(Apdu, Case4Extended) {
  std::vector<std::uint8_t> bytes = hex("00 2A 9E 9A 00 00 03 01 02 03 00 00");
  auto a = parse(bytes);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ApduCase::Case4Extended);
  EXPECT_EQ(a->nc, 3u);
  EXPECT_EQ(a->ne, 65536u);
  EXPECT_EQ(to_hex(a->data), "010203");

  // Largest: Nc = 65535 and Le = FFFF.
  std::vector<std::uint8_t> big = hex("00 DB 3F FF 00 FF FF");
  big.resize(7 + 65535, 0x11);
  big.push_back(0xFF);
  big.push_back(0xFF);
  a = parse(big);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ApduCase::Case4Extended);
  EXPECT_EQ(a->nc, 65535u);
  EXPECT_EQ(a->ne, 65535u);
}

TEST(Apdu, MalformedCommands) {
  EXPECT_FALSE(parse({}));
  EXPECT_FALSE(parse(hex("00")));
  EXPECT_FALSE(parse(hex("00 A4 04")));
  // Short Lc announces 2 bytes, 1 present / 4 present (neither case 3S nor 4S).
  EXPECT_FALSE(parse(hex("00 A4 04 00 02 3F")));
  EXPECT_FALSE(parse(hex("00 A4 04 00 02 3F 00 00 00")));
  // 00 then one byte: neither a short Lc (00 is not one) nor an extended field.
  EXPECT_FALSE(parse(hex("00 A4 04 00 00 01")));
  // Extended Lc of 0000 followed by more bytes.
  EXPECT_FALSE(parse(hex("00 D6 00 00 00 00 00 01")));
  // Extended Lc = 3 with 2 data bytes, and with a 1-byte Le.
  EXPECT_FALSE(parse(hex("00 D6 00 00 00 00 03 01 02")));
  EXPECT_FALSE(parse(hex("00 D6 00 00 00 00 03 01 02 03 00")));
}

TEST(Apdu, CaseNames) {
  EXPECT_EQ(to_string(ApduCase::Case1), "case 1");
  EXPECT_EQ(to_string(ApduCase::Case4Extended), "case 4E");
}

TEST(StatusWord, ReadsTheLastTwoBytes) {
  EXPECT_EQ(status_word(hex("90 00")), 0x9000);
  EXPECT_EQ(status_word(hex("01 02 03 6A 82")), 0x6A82);
  EXPECT_FALSE(status_word(hex("90")).has_value());
  EXPECT_FALSE(status_word({}).has_value());
}

TEST(StatusWord, Success) {
  EXPECT_TRUE(sw_is_success(0x9000));
  EXPECT_TRUE(sw_is_success(0x6110));
  EXPECT_FALSE(sw_is_success(0x6A82));
  EXPECT_FALSE(sw_is_success(0x63C2));  // wrong PIN, 2 tries left
  EXPECT_FALSE(sw_is_success(0x9001));
}

TEST(Redaction, VerifyHidesThePin) {
  // VERIFY PIN "123456" padded with FF (PIV style), Lc 08.
  const auto verify = hex("00 20 00 80 08 31 32 33 34 35 36 FF FF");
  const std::string line = format_command_for_log(verify);
  EXPECT_EQ(line, "00 20 00 80 08 <8 bytes redacted>");
  EXPECT_EQ(line.find("31"), std::string::npos);
  EXPECT_EQ(format_command_for_log(verify, true), "00 20 00 80 08 31 32 33 34 35 36 FF FF");
}

TEST(Redaction, ChangeReferenceDataAndResetRetryCounter) {
  EXPECT_EQ(format_command_for_log(hex("00 24 00 80 08 31 32 33 34 39 38 37 36")),
            "00 24 00 80 08 <8 bytes redacted>");
  EXPECT_EQ(format_command_for_log(hex("00 2C 00 80 10 11 22 33 44 55 66 77 88 31 32 33 34 "
                                       "35 36 37 38")),
            "00 2C 00 80 10 <16 bytes redacted>");
  // Proprietary class: still redacted, a PIN may be in there.
  EXPECT_EQ(format_command_for_log(hex("80 20 00 01 04 31 32 33 34")),
            "80 20 00 01 04 <4 bytes redacted>");
}

TEST(Redaction, OddInsFormsAreRedactedToo) {
  // VERIFY with BER-TLV data (INS 21): the PIN sits inside a data object.
  EXPECT_EQ(format_command_for_log(hex("00 21 00 80 06 81 04 31 32 33 34")),
            "00 21 00 80 06 <6 bytes redacted>");
  EXPECT_TRUE(carries_pin(0x25));
  EXPECT_TRUE(carries_pin(0x2D));
  EXPECT_FALSE(carries_pin(0x22));  // MANAGE SECURITY ENVIRONMENT
  EXPECT_FALSE(carries_pin(0xA4));
}

TEST(Redaction, ExtendedAndLeStayVisible) {
  // Case 4E VERIFY: header, extended Lc, data hidden, Le shown.
  EXPECT_EQ(format_command_for_log(hex("00 20 00 80 00 00 04 31 32 33 34 00 00")),
            "00 20 00 80 00 00 04 <4 bytes redacted> 00 00");
  EXPECT_EQ(format_command_for_log(hex("00 20 00 80 04 31 32 33 34 00")),
            "00 20 00 80 04 <4 bytes redacted> 00");
}

TEST(Redaction, MalformedPinCommandShowsOnlyTheHeader) {
  // Lc says 8, 5 data bytes: no case fits, but the bytes may still be a PIN.
  EXPECT_EQ(format_command_for_log(hex("00 20 00 80 08 31 32 33 34 35")),
            "00 20 00 80 <6 bytes redacted>");
}

TEST(Redaction, NothingToHide) {
  // VERIFY case 1 asks for the retry counter: no data.
  EXPECT_EQ(format_command_for_log(hex("00 20 00 80")), "00 20 00 80");
  EXPECT_EQ(format_command_for_log(hex("00 A4 04 00 02 3F 00")), "00 A4 04 00 02 3F 00");
  EXPECT_EQ(format_command_for_log(hex("00 20")), "00 20");
  EXPECT_EQ(format_command_for_log({}), "");
}

TEST(Hex, ToHex) {
  const std::vector<std::uint8_t> bytes{0x00, 0xA4, 0x0f, 0xFF};
  EXPECT_EQ(to_hex(bytes), "00A40FFF");
  EXPECT_EQ(to_hex({}), "");
}

TEST(Hex, FromHexAcceptsSeparatorsAndBothCases) {
  EXPECT_EQ(from_hex("00a4 0F:ff\t10"), (std::vector<std::uint8_t>{0x00, 0xA4, 0x0F, 0xFF, 0x10}));
  EXPECT_EQ(from_hex(""), std::vector<std::uint8_t>{});
  // A byte may straddle a separator; digits are what count.
  EXPECT_EQ(from_hex("0 0"), std::vector<std::uint8_t>{0x00});
}

TEST(Hex, FromHexRejectsBadInput) {
  EXPECT_FALSE(from_hex("0"));
  EXPECT_FALSE(from_hex("00 A"));
  EXPECT_FALSE(from_hex("0G"));
  EXPECT_FALSE(from_hex("0x00"));
  EXPECT_FALSE(from_hex("00\n"));
}

TEST(Hex, RoundTrip) {
  std::vector<std::uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(from_hex(to_hex(all)), all);
}

}  // namespace
}  // namespace vscard
