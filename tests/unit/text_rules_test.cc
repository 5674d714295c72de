// SPDX-License-Identifier: LGPL-2.1-or-later
// The two small text rules the programs share with the library:
// vscard::parse_decimal (vscard/decimal.h) and vscard::utf8_sequence_length
// (vscard/utf8.h, the rule of wire::decode_utf8 that printable() applies).
#include <gtest/gtest.h>

#include <cstdint>

#include "vscard/decimal.h"
#include "vscard/utf8.h"

namespace vscard {
namespace {

TEST(ParseDecimal, WholeTextInRange) {
  EXPECT_EQ(parse_decimal<unsigned>("2001", 0, 65535), 2001u);
  EXPECT_EQ(parse_decimal<unsigned>("0", 0, 65535), 0u);
  EXPECT_EQ(parse_decimal<std::uint16_t>("65535"), 65535u);
  EXPECT_EQ(parse_decimal<int>("7", 1, 7), 7);
}

TEST(ParseDecimal, RefusesAnythingElse) {
  for (const char* bad : {"", " 1", "1 ", "+1", "-1", "1x", "0x10", "1.5", "١"}) {
    EXPECT_EQ(parse_decimal<int>(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(parse_decimal<std::uint16_t>("65536"), std::nullopt);  // overflow
  EXPECT_EQ(parse_decimal<int>("0", 1, 10), std::nullopt);         // below min
  EXPECT_EQ(parse_decimal<int>("11", 1, 10), std::nullopt);        // above max
  EXPECT_EQ(parse_decimal<std::uint64_t>("99999999999999999999"), std::nullopt);
}

TEST(Utf8SequenceLength, WellFormedSequences) {
  EXPECT_EQ(utf8_sequence_length("a"), 1u);
  EXPECT_EQ(utf8_sequence_length(std::string_view("\0", 1)), 1u);
  EXPECT_EQ(utf8_sequence_length("\xC3\xA9x"), 2u);
  EXPECT_EQ(utf8_sequence_length("\xE2\x82\xAC"), 3u);
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x94\x91"), 4u);
  EXPECT_EQ(utf8_sequence_length("\xF4\x8F\xBF\xBF"), 4u);  // U+10FFFF
}

TEST(Utf8SequenceLength, IllFormedIsZero) {
  for (const char* bad : {"", "\x80", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xED\xA0\x80",
                          "\xF0\x80\x80\xAF", "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80",
                          "\xC3", "\xE2\x82", "\xC3("}) {
    EXPECT_EQ(utf8_sequence_length(bad), 0u) << testing::PrintToString(bad);
  }
}

}  // namespace
}  // namespace vscard
