// SPDX-License-Identifier: LGPL-2.1-or-later
// How often a retrying loop speaks (see failure_streak.h).
#include "failure_streak.h"

namespace vscclient {

FailureStreak::Say FailureStreak::failed(Clock::time_point now) {
  if (failures_++ == 0) {
    started_ = now;
    last_said_ = now;
    return Say::Warning;
  }
  if (now - last_said_ < reminder_) return Say::Nothing;
  last_said_ = now;
  return Say::Reminder;
}

std::optional<FailureStreak::Recovery> FailureStreak::succeeded(Clock::time_point now) {
  if (failures_ == 0) return std::nullopt;
  Recovery recovery{failures_, lasted(now)};
  failures_ = 0;
  return recovery;
}

std::chrono::milliseconds FailureStreak::lasted(Clock::time_point now) const {
  if (failures_ == 0) return {};
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - started_);
}

}  // namespace vscclient
