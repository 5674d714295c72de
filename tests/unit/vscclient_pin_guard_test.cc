// SPDX-License-Identifier: LGPL-2.1-or-later
// PinGuard: VERIFY answers per reference, local refusal, allow-pin, release.
#include <gtest/gtest.h>

#include "pin_guard.h"

namespace vscclient {
namespace {

using B = std::vector<std::uint8_t>;

// VERIFY for reference `p2` with an 8-byte PIN "1234" padded with FF.
B verify(std::uint8_t p2 = 0x80) {
  return {0x00, 0x20, 0x00, p2, 0x08, '1', '2', '3', '4', 0xFF, 0xFF, 0xFF, 0xFF};
}
// VERIFY without data: asks for the retry counter only.
B verify_query(std::uint8_t p2 = 0x80) { return {0x00, 0x20, 0x00, p2}; }
const B kBlocked{0x69, 0x83};

// Sends `command` through the guard to a card answering `card_sw`; returns what
// the host gets and whether the card saw the command.
std::pair<B, bool> exchange(PinGuard& guard, const B& command, B card_sw) {
  if (auto local = guard.on_command(command)) return {*local, false};
  guard.on_response(card_sw);
  return {card_sw, true};
}

TEST(PinGuard, ForwardsWhileTriesRemainAboveThreshold) {
  PinGuard guard(1);
  auto [answer, forwarded] = exchange(guard, verify(), {0x63, 0xC2});
  EXPECT_TRUE(forwarded);
  EXPECT_EQ(answer, (B{0x63, 0xC2}));
  EXPECT_FALSE(guard.guarding(0x80));
  EXPECT_TRUE(exchange(guard, verify(), {0x90, 0x00}).second);
}

TEST(PinGuard, RefusesLocallyAtThreshold) {
  PinGuard guard(1);
  exchange(guard, verify(), {0x63, 0xC1});
  EXPECT_TRUE(guard.guarding(0x80));
  auto [answer, forwarded] = exchange(guard, verify(), {0x63, 0xC0});
  EXPECT_FALSE(forwarded) << "the last try must not reach the card";
  EXPECT_EQ(answer, kBlocked);
  EXPECT_EQ(guard.refused(), 1u);
}

TEST(PinGuard, NoticesOnceWhenGuardingStarts) {
  PinGuard guard(2);
  ASSERT_FALSE(guard.on_command(verify()));
  auto notice = guard.on_response(B{0x63, 0xC2});
  ASSERT_TRUE(notice);
  EXPECT_EQ(notice->kind, PinGuard::Notice::Kind::Guarding);
  EXPECT_EQ(notice->reference, 0x80);
  EXPECT_EQ(notice->tries_left, 2u);
  // A counter query while guarding: forwarded, no second notice.
  ASSERT_FALSE(guard.on_command(verify_query()));
  EXPECT_FALSE(guard.on_response(B{0x63, 0xC2}));
}

TEST(PinGuard, BlockedCardIsGuarded) {
  PinGuard guard(1);
  exchange(guard, verify(), kBlocked);
  EXPECT_TRUE(guard.guarding(0x80));
  EXPECT_FALSE(exchange(guard, verify(), kBlocked).second);
}

TEST(PinGuard, ReferencesAreIndependent) {
  PinGuard guard(1);
  exchange(guard, verify(0x81), {0x63, 0xC1});
  EXPECT_TRUE(guard.guarding(0x81));
  EXPECT_FALSE(guard.guarding(0x80));
  EXPECT_TRUE(exchange(guard, verify(0x80), {0x63, 0xC2}).second);
  EXPECT_FALSE(exchange(guard, verify(0x81), {0x90, 0x00}).second);
}

TEST(PinGuard, CounterQueryIsAlwaysForwardedAndCanRelease) {
  PinGuard guard(1);
  exchange(guard, verify(), {0x63, 0xC1});
  ASSERT_TRUE(guard.guarding(0x80));
  // The query costs no try: it goes through even while guarding.
  EXPECT_TRUE(exchange(guard, verify_query(), {0x63, 0xC1}).second);
  EXPECT_TRUE(guard.guarding(0x80));
  // The PIN was reset elsewhere: the counter is back above the threshold.
  EXPECT_TRUE(exchange(guard, verify_query(), {0x63, 0xC3}).second);
  EXPECT_FALSE(guard.guarding(0x80));
}

TEST(PinGuard, SuccessfulVerifyReleases) {
  PinGuard guard(1);
  exchange(guard, verify(), {0x63, 0xC1});
  // Already verified (e.g. on the host's PIN pad): the query answers 9000.
  ASSERT_FALSE(guard.on_command(verify_query()));
  auto notice = guard.on_response(B{0x90, 0x00});
  ASSERT_TRUE(notice);
  EXPECT_EQ(notice->kind, PinGuard::Notice::Kind::Released);
  EXPECT_TRUE(exchange(guard, verify(), {0x90, 0x00}).second);
}

TEST(PinGuard, AllowPinLetsTheNextTryThroughAndGuardsAgain) {
  PinGuard guard(1);
  exchange(guard, verify(), {0x63, 0xC1});
  EXPECT_EQ(guard.allow(), (B{0x80}));
  EXPECT_FALSE(guard.guarding(0x80));
  auto [answer, forwarded] = exchange(guard, verify(), {0x63, 0xC0});
  EXPECT_TRUE(forwarded);
  EXPECT_EQ(answer, (B{0x63, 0xC0}));
  EXPECT_TRUE(guard.guarding(0x80)) << "0 tries left is at or below the threshold";
  EXPECT_TRUE(guard.allow().size() == 1 && guard.allow().empty());
}

TEST(PinGuard, MalformedVerifyWithDataIsJudgedAsAPin) {
  PinGuard guard(1);
  exchange(guard, verify(), {0x63, 0xC1});
  // Lc disagrees with the length: the card might still read a PIN from it.
  EXPECT_FALSE(exchange(guard, B{0x00, 0x20, 0x00, 0x80, 0x09, '1', '2'}, {0x63, 0xC0}).second);
  // VERIFY with odd INS (21, BER-TLV data) is VERIFY too.
  EXPECT_FALSE(exchange(guard, B{0x00, 0x21, 0x00, 0x80, 0x02, 0x01, 0x02}, {0x63, 0xC0}).second);
}

// Issue 18: CHANGE REFERENCE DATA presents the current PIN (P1 00) and a wrong
// one costs a try of the same counter: it is guarded like VERIFY.
TEST(PinGuard, ChangeReferenceDataIsGuardedLikeVerify) {
  const B change{0x00, 0x24, 0x00, 0x80, 0x10, '1', '2', '3', '4', 0xFF, 0xFF, 0xFF, 0xFF,
                 '5', '6', '7', '8', 0xFF, 0xFF, 0xFF, 0xFF};
  PinGuard guard(1);
  EXPECT_TRUE(exchange(guard, change, {0x63, 0xC1}).second);
  EXPECT_TRUE(guard.guarding(0x80)) << "a wrong current PIN in CHANGE REFERENCE DATA counts";
  auto [answer, forwarded] = exchange(guard, change, {0x63, 0xC0});
  EXPECT_FALSE(forwarded) << "the last try must not reach the card";
  EXPECT_EQ(answer, kBlocked);
  // Guarded by VERIFY's answers, refused for CHANGE REFERENCE DATA (INS 25) too.
  PinGuard other(1);
  exchange(other, verify(0x81), {0x63, 0xC1});
  B odd = change;
  odd[1] = 0x25;
  odd[3] = 0x81;
  EXPECT_FALSE(exchange(other, odd, {0x90, 0x00}).second);
}

TEST(PinGuard, OtherCommandsAndResponsesChangeNothing) {
  PinGuard guard(1);
  // SELECT answered 63C1 (not a VERIFY): no guarding.
  EXPECT_TRUE(exchange(guard, B{0x00, 0xA4, 0x04, 0x00, 0x02, 0x3F, 0x00}, {0x63, 0xC1}).second);
  EXPECT_FALSE(guard.guarding(0x00));
  // A response with no status word, or a response with no command: ignored.
  ASSERT_FALSE(guard.on_command(verify()));
  EXPECT_FALSE(guard.on_response(B{0x63}));
  EXPECT_FALSE(guard.on_response(B{0x63, 0xC1}));
  EXPECT_FALSE(guard.guarding(0x80));
  // Wrong length, wrong P1/P2 and the like leave the counter alone.
  EXPECT_TRUE(exchange(guard, verify(), {0x67, 0x00}).second);
  EXPECT_FALSE(guard.guarding(0x80));
}

TEST(PinGuard, ThresholdZeroGuardsOnlyABlockedPin) {
  PinGuard guard(0);
  exchange(guard, verify(), {0x63, 0xC1});
  EXPECT_FALSE(guard.guarding(0x80));
  exchange(guard, verify(), {0x63, 0xC0});
  EXPECT_TRUE(guard.guarding(0x80));
}

}  // namespace
}  // namespace vscclient
