// SPDX-License-Identifier: LGPL-2.1-or-later
// Step semantics of docs/vschost-scripts.md.
#include "script_runner.h"

#include "vscard/apdu.h"

namespace vschost {

using vscard::HostSession;

ScriptRunner::ScriptRunner(const Script& script, ScriptTarget& target, StepHandler on_step)
    : script_(script), target_(target), on_step_(std::move(on_step)) {}

bool ScriptRunner::passed() const {
  if (!finished()) return false;
  for (const auto& r : results_) {
    if (r.status != StepResult::Status::Passed) return false;
  }
  return true;
}

void ScriptRunner::start(Clock::time_point now) {
  if (started_) return;
  started_ = true;
  advance(now);
}

const HostSession::ReaderInfo* ScriptRunner::find_reader(vscard::ReaderId id) const {
  for (const auto& r : target_.readers()) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

const HostSession::ReaderInfo* ScriptRunner::find_card(
    const std::optional<std::string>& name) const {
  for (const auto& r : target_.readers()) {
    if (r.card_present && (!name || r.name == *name)) return &r;
  }
  return nullptr;
}

const HostSession::ReaderInfo* ScriptRunner::step_reader(const Step& step) const {
  if (step.reader) {
    for (const auto& r : target_.readers()) {
      if (r.name == *step.reader) return &r;
    }
    return nullptr;
  }
  return current_reader_ ? find_reader(*current_reader_) : find_card(std::nullopt);
}

bool ScriptRunner::send_power_event(Clock::time_point now, const Step& step) {
  const HostSession::ReaderInfo* reader = step_reader(step);
  // The host sends power events only between APDUs and one reset at a time
  // (docs/protocol.md, CardControl state rules): wait until the card is idle.
  if (reader == nullptr || !reader->card_present || reader->apdu_outstanding ||
      reader->atr_outstanding) {
    return false;
  }
  const auto event = step.kind == Step::Kind::PowerOff  ? vscard::CardControlEvent::PowerOff
                     : step.kind == Step::Kind::PowerOn ? vscard::CardControlEvent::PowerOn
                                                        : vscard::CardControlEvent::WarmReset;
  current_reader_ = reader->id;
  target_reader_ = reader->id;
  const std::string where = "reader " + std::to_string(reader->id);
  const vscard::CardControlResult result = target_.card_control(reader->id, event);
  if (result != vscard::CardControlResult::Sent) {
    finish(now, StepResult::Status::Failed,
           "cannot send " + std::string(vscard::to_string(event)) + " to " + where + ": " +
               std::string(vscard::to_string(result)));
    return true;
  }
  if (event == vscard::CardControlEvent::PowerOff) {
    finish(now, StepResult::Status::Passed, where + ": powered off");
    return true;
  }
  wait_ = Wait::Atr;
  return false;
}

std::optional<Clock::time_point> ScriptRunner::deadline() const {
  if (!started_ || finished() || wait_ == Wait::None) return std::nullopt;
  return deadline_;
}

void ScriptRunner::finish(Clock::time_point now, StepResult::Status status, std::string detail) {
  pending_.status = status;
  pending_.detail = std::move(detail);
  pending_.elapsed = std::chrono::duration_cast<Millis>(now - step_start_);
  results_.push_back(std::move(pending_));
  pending_ = {};
  wait_ = Wait::None;
  ++index_;
  if (on_step_) on_step_(results_.back());
}

void ScriptRunner::advance(Clock::time_point now) {
  while (!finished() && wait_ == Wait::None) {
    const Step& step = script_.steps[index_];
    pending_ = {};
    pending_.index = index_;
    pending_.step = &step;
    step_start_ = now;
    deadline_ = now + (step.kind == Step::Kind::Sleep ? step.duration : step.timeout);
    switch (step.kind) {
      case Step::Kind::WaitCard:
        wait_ = Wait::Card;
        break;
      case Step::Kind::WaitRemoval:
        wait_ = Wait::Removal;
        break;
      case Step::Kind::Send:
      case Step::Kind::PowerOff:
      case Step::Kind::PowerOn:
      case Step::Kind::Reset:
        // Waits (Card) for a card to send to, then for the response or ATR.
        wait_ = Wait::Card;
        break;
      case Step::Kind::Flush:
        wait_ = Wait::FlushDone;
        target_reader_ = current_reader_.value_or(
            target_.readers().empty() ? 0 : target_.readers().front().id);
        if (!target_.flush(target_reader_)) {
          finish(now, StepResult::Status::Failed,
                 "cannot send Flush to reader " + std::to_string(target_reader_));
        }
        continue;
      case Step::Kind::Sleep:
        wait_ = Wait::Sleep;
        continue;
      case Step::Kind::Set:
        vars_[step.var] = step.value;
        finish(now, StepResult::Status::Passed, {});
        continue;
      case Step::Kind::Expect: {
        if (!last_response_) {
          finish(now, StepResult::Status::Failed, "no response to check (the send failed)");
          continue;
        }
        pending_.response = *last_response_;
        MatchResult m = match(*step.expect, *last_response_, vars_);
        if (m.ok) vars_.merge(m.captures);
        finish(now, m.ok ? StepResult::Status::Passed : StepResult::Status::Failed, m.why);
        continue;
      }
    }
    poll(now);
  }
}

bool ScriptRunner::poll(Clock::time_point now) {
  const Step& step = script_.steps[index_];
  switch (wait_) {
    case Wait::Card: {
      const HostSession::ReaderInfo* reader = nullptr;
      if (step.kind == Step::Kind::WaitCard) {
        reader = find_card(step.reader);
      } else {
        reader = current_reader_ ? find_reader(*current_reader_) : find_card(std::nullopt);
      }
      if (step.kind == Step::Kind::PowerOff || step.kind == Step::Kind::PowerOn ||
          step.kind == Step::Kind::Reset) {
        return send_power_event(now, step);
      }
      if (reader == nullptr || !reader->card_present) return false;
      // A response that came too late for an earlier step is still owed: wait for it.
      if (step.kind == Step::Kind::Send && reader->apdu_outstanding) return false;
      if (step.kind == Step::Kind::WaitCard) {
        current_reader_ = reader->id;
        finish(now, StepResult::Status::Passed,
               "reader " + std::to_string(reader->id) + " \"" + reader->name +
                   "\": ATR " + vscard::to_hex(reader->atr));
        return true;
      }
      std::string missing;
      pending_.command = build_command(step.command, vars_, &missing);
      target_reader_ = reader->id;
      last_response_.reset();
      if (!missing.empty()) {
        finish(now, StepResult::Status::Failed, "variable $" + missing + " has no value");
        return true;
      }
      if (pending_.command.size() > kMaxScriptApdu) {
        // Variables made it longer than the parser could see.
        finish(now, StepResult::Status::Failed,
               "the command APDU is " + std::to_string(pending_.command.size()) +
                   " bytes; a VSCard message carries at most " + std::to_string(kMaxScriptApdu));
        return true;
      }
      if (!target_.send_apdu(reader->id, pending_.command)) {
        finish(now, StepResult::Status::Failed,
               "cannot send to reader " + std::to_string(reader->id) +
                   " (an APDU to it is still outstanding)");
        return true;
      }
      wait_ = Wait::Response;
      return false;
    }
    case Wait::Removal: {
      vscard::ReaderId id = current_reader_.value_or(0);
      const HostSession::ReaderInfo* reader = nullptr;
      if (step.reader) {
        for (const auto& r : target_.readers()) {
          if (r.name == *step.reader) reader = &r;
        }
      } else {
        reader = find_reader(id);
      }
      if (reader != nullptr && reader->card_present) return false;
      finish(now, StepResult::Status::Passed, {});
      return true;
    }
    case Wait::Atr: {
      const auto* reader = find_reader(target_reader_);
      if (reader == nullptr || !reader->card_present) {
        finish(now, StepResult::Status::Failed, "the card was removed before its new ATR came");
        return true;
      }
      if (reader->atr_outstanding) return false;
      if (!reader->powered) {
        finish(now, StepResult::Status::Failed,
               "the host refused the card's new ATR " + vscard::to_hex(reader->atr) +
                   " (ISO 7816-3); the card stays unpowered");
        return true;
      }
      finish(now, StepResult::Status::Passed,
             "reader " + std::to_string(reader->id) + ": ATR " + vscard::to_hex(reader->atr));
      return true;
    }
    case Wait::Response: {
      const auto* reader = find_reader(target_reader_);
      if (reader == nullptr || !reader->card_present) {
        finish(now, StepResult::Status::Failed, "the card was removed before it answered");
        return true;
      }
      return false;
    }
    default:
      return false;
  }
}

void ScriptRunner::readers_changed(Clock::time_point now) {
  if (!started_ || finished() || wait_ == Wait::None) return;
  if (poll(now)) advance(now);
}

void ScriptRunner::apdu_response(Clock::time_point now, vscard::ReaderId reader,
                                 std::span<const std::uint8_t> response) {
  if (finished() || wait_ != Wait::Response || reader != target_reader_) return;
  const Step& step = script_.steps[index_];
  last_response_.emplace(response.begin(), response.end());
  pending_.response = *last_response_;
  if (!step.expect) {
    finish(now, StepResult::Status::Passed, {});
  } else {
    MatchResult m = match(*step.expect, response, vars_);
    if (m.ok) vars_.merge(m.captures);
    finish(now, m.ok ? StepResult::Status::Passed : StepResult::Status::Failed,
           m.ok ? std::string{} : m.why + " (expected " + to_string(*step.expect) + ")");
  }
  advance(now);
}

void ScriptRunner::apdu_error(Clock::time_point now, vscard::ReaderId reader,
                              std::uint32_t code) {
  if (finished() || wait_ != Wait::Response || reader != target_reader_) return;
  finish(now, StepResult::Status::Failed,
         "the client answered Error(" + std::to_string(code) + ") instead of a response");
  advance(now);
}

void ScriptRunner::flush_completed(Clock::time_point now, vscard::ReaderId reader) {
  if (finished() || wait_ != Wait::FlushDone || reader != target_reader_) return;
  finish(now, StepResult::Status::Passed, {});
  advance(now);
}

void ScriptRunner::disconnected(Clock::time_point now, const std::string& reason) {
  if (finished()) return;
  if (!started_) {
    started_ = true;
    pending_ = {};
  }
  if (wait_ == Wait::None) {
    pending_ = {};
    pending_.index = index_;
    pending_.step = &script_.steps[index_];
    step_start_ = now;
  }
  finish(now, StepResult::Status::Failed, "client disconnected: " + reason);
  while (!finished()) {
    pending_ = {};
    pending_.index = index_;
    pending_.step = &script_.steps[index_];
    step_start_ = now;
    finish(now, StepResult::Status::NotRun, "not run: the client disconnected");
  }
}

void ScriptRunner::timer(Clock::time_point now) {
  if (!started_ || finished() || wait_ == Wait::None || now < deadline_) return;
  if (wait_ == Wait::Sleep) {
    finish(now, StepResult::Status::Passed, {});
  } else {
    static constexpr const char* kWhat[] = {"",  "a card", "the card's removal", "the response",
                                             "FlushComplete", "", "the card's new ATR"};
    const Step& step = script_.steps[index_];
    finish(now, StepResult::Status::Failed,
           "timed out after " + std::to_string(step.timeout.count()) + " ms waiting for " +
               kWhat[static_cast<int>(wait_)]);
  }
  advance(now);
}

}  // namespace vschost
