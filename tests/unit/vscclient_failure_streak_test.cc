// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient/failure_streak.cc: one warning per streak, rare reminders, a recovery.
#include "failure_streak.h"

#include <gtest/gtest.h>

namespace vscclient {
namespace {

using namespace std::chrono_literals;
using Say = FailureStreak::Say;

TEST(FailureStreak, OneWarningThenRemindersAtTheirRate) {
  FailureStreak streak(300s);
  const auto t0 = FailureStreak::Clock::time_point{} + 1000s;
  EXPECT_EQ(streak.failed(t0), Say::Warning);
  // Backoff retries every few seconds: silence until the reminder is due.
  for (auto t = t0 + 1s; t < t0 + 300s; t += 7s) EXPECT_EQ(streak.failed(t), Say::Nothing);
  EXPECT_EQ(streak.failed(t0 + 301s), Say::Reminder);
  EXPECT_EQ(streak.failed(t0 + 330s), Say::Nothing);
  EXPECT_EQ(streak.failed(t0 + 602s), Say::Reminder);
  EXPECT_EQ(streak.lasted(t0 + 610s), 610s);
}

TEST(FailureStreak, RecoveryEndsTheStreakOnce) {
  FailureStreak streak(300s);
  const auto t0 = FailureStreak::Clock::time_point{} + 1000s;
  EXPECT_FALSE(streak.succeeded(t0)) << "no streak, nothing to report";
  streak.failed(t0);
  streak.failed(t0 + 1s);
  streak.failed(t0 + 3s);
  auto recovery = streak.succeeded(t0 + 7s);
  ASSERT_TRUE(recovery);
  EXPECT_EQ(recovery->failures, 3u);
  EXPECT_EQ(recovery->lasted, 7s);
  EXPECT_FALSE(streak.succeeded(t0 + 8s));
  // The next failure starts a new streak with its own warning.
  EXPECT_EQ(streak.failed(t0 + 20s), Say::Warning);
}

}  // namespace
}  // namespace vscclient
