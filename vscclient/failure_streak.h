// SPDX-License-Identifier: LGPL-2.1-or-later
// FailureStreak: how often a retrying loop speaks. A host that is away for an
// hour must not fill the log with a warning per attempt: the first failure of
// a streak is said in full, then a short reminder at most every `reminder`,
// and one line when it works again (vscclient(1), DIAGNOSTICS).
#pragma once

#include <chrono>
#include <optional>

namespace vscclient {

class FailureStreak {
 public:
  using Clock = std::chrono::steady_clock;

  explicit FailureStreak(std::chrono::seconds reminder) : reminder_(reminder) {}

  enum class Say {
    Warning,   // the first failure of a streak: say it in full
    Reminder,  // still failing, `reminder` after the last line: say it briefly
    Nothing,
  };
  // One more failed attempt (a lost connection starts a streak too).
  Say failed(Clock::time_point now);

  struct Recovery {
    unsigned failures = 0;              // failed attempts in the streak
    std::chrono::milliseconds lasted{};  // from its first failure until now
  };
  // It works again: the streak that ended, if there was one.
  std::optional<Recovery> succeeded(Clock::time_point now);

  unsigned failures() const { return failures_; }
  // Since the streak's first failure (0 outside a streak).
  std::chrono::milliseconds lasted(Clock::time_point now) const;

 private:
  std::chrono::seconds reminder_;
  unsigned failures_ = 0;
  Clock::time_point started_{};
  Clock::time_point last_said_{};
};

}  // namespace vscclient
