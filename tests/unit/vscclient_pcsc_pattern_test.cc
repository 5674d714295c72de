// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient/pcsc_pattern: which PC/SC readers --pcsc=PATTERN selects.
#include "pcsc_pattern.h"

#include <gtest/gtest.h>

using vscclient::ReaderPattern;

TEST(ReaderPattern, EmptySelectsEveryReader) {
  EXPECT_TRUE(ReaderPattern().matches("Virtual PCD 00 00"));
  EXPECT_TRUE(ReaderPattern("").matches(""));
}

TEST(ReaderPattern, PlainTextIsASubstring) {
  ReaderPattern p("00 01");
  EXPECT_FALSE(p.is_glob());
  EXPECT_TRUE(p.matches("Virtual PCD 00 01"));
  EXPECT_FALSE(p.matches("Virtual PCD 00 00"));
  EXPECT_TRUE(ReaderPattern("Yubico").matches("Yubico YubiKey OTP+FIDO+CCID 00 00"));
}

TEST(ReaderPattern, GlobMatchesTheWholeName) {
  ReaderPattern p("Virtual*00");
  EXPECT_TRUE(p.is_glob());
  EXPECT_TRUE(p.matches("Virtual PCD 00 00"));
  EXPECT_FALSE(p.matches("Virtual PCD 00 01"));
  EXPECT_FALSE(ReaderPattern("PCD*").matches("Virtual PCD 00 00"));  // anchored at the start
  EXPECT_TRUE(ReaderPattern("Virtual PCD 00 0?").matches("Virtual PCD 00 01"));
}

TEST(ReaderPattern, CaseMatters) {
  EXPECT_FALSE(ReaderPattern("virtual").matches("Virtual PCD 00 00"));
}
