// SPDX-License-Identifier: LGPL-2.1-or-later
// ScriptRunner: executes a parsed script against one client's readers and cards.
//
// Sans-I/O like HostSession: the program tells it what happened (readers
// changed, an APDU response arrived, the clock moved) and it acts through a
// ScriptTarget (send an APDU, send Flush). It never blocks and never reads a
// clock itself, so every rule is unit-tested with a fake target and fake time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pattern_match.h"
#include "script.h"
#include "vscard/host_session.h"

namespace vschost {

using Clock = std::chrono::steady_clock;

// What a script needs from a client connection (a HostSession behind it).
class ScriptTarget {
 public:
  virtual ~ScriptTarget() = default;
  virtual const std::vector<vscard::HostSession::ReaderInfo>& readers() const = 0;
  virtual bool send_apdu(vscard::ReaderId reader, std::span<const std::uint8_t> apdu) = 0;
  virtual bool flush(vscard::ReaderId reader) = 0;
  // Sends a CardControl event (extension); anything but Sent is a refusal.
  virtual vscard::CardControlResult card_control(vscard::ReaderId reader,
                                                 vscard::CardControlEvent event) = 0;
};

struct StepResult {
  enum class Status { Passed, Failed, NotRun };
  std::size_t index = 0;  // 0-based position in the script
  const Step* step = nullptr;
  Status status = Status::NotRun;
  std::string detail;     // why it failed, or what it found ("reader 0: 3B95...")
  Millis elapsed{0};
  std::vector<std::uint8_t> command;   // Send: the bytes sent
  std::vector<std::uint8_t> response;  // Send/Expect: the response checked
};

class ScriptRunner {
 public:
  using StepHandler = std::function<void(const StepResult&)>;

  ScriptRunner(const Script& script, ScriptTarget& target, StepHandler on_step);

  void start(Clock::time_point now);
  // Reader added/removed, card inserted/removed.
  void readers_changed(Clock::time_point now);
  void apdu_response(Clock::time_point now, vscard::ReaderId reader,
                     std::span<const std::uint8_t> response);
  void apdu_error(Clock::time_point now, vscard::ReaderId reader, std::uint32_t code);
  void flush_completed(Clock::time_point now, vscard::ReaderId reader);
  // The client went away: the running step fails, the rest are not run.
  void disconnected(Clock::time_point now, const std::string& reason);
  // Call at deadline() (or later).
  void timer(Clock::time_point now);

  // When timer() must be called next; nullopt while nothing is timed.
  std::optional<Clock::time_point> deadline() const;
  bool finished() const { return index_ >= script_.steps.size(); }
  bool passed() const;
  const std::vector<StepResult>& results() const { return results_; }
  const Variables& variables() const { return vars_; }

 private:
  enum class Wait { None, Card, Removal, Response, FlushDone, Sleep, Atr };

  void advance(Clock::time_point now);
  // Tries to make progress on the current step; true when it finished.
  bool poll(Clock::time_point now);
  void finish(Clock::time_point now, StepResult::Status status, std::string detail);
  const vscard::HostSession::ReaderInfo* find_card(const std::optional<std::string>& name) const;
  const vscard::HostSession::ReaderInfo* find_reader(vscard::ReaderId id) const;
  // The reader a send or power step addresses (named, current, or the first card).
  const vscard::HostSession::ReaderInfo* step_reader(const Step& step) const;
  // Wait::Card of a power step: sends the event once the card is idle.
  bool send_power_event(Clock::time_point now, const Step& step);

  const Script& script_;
  ScriptTarget& target_;
  StepHandler on_step_;
  std::size_t index_ = 0;
  bool started_ = false;
  Wait wait_ = Wait::None;
  Clock::time_point step_start_{};
  Clock::time_point deadline_{};
  std::optional<vscard::ReaderId> current_reader_;
  vscard::ReaderId target_reader_ = 0;  // the reader a Send/Flush went to
  Variables vars_;
  std::optional<std::vector<std::uint8_t>> last_response_;
  StepResult pending_;
  std::vector<StepResult> results_;
};

}  // namespace vschost
