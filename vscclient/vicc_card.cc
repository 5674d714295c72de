// SPDX-License-Identifier: LGPL-2.1-or-later
// ViccCard: the rules are in vicc_card.h.
#include "vicc_card.h"

#include <algorithm>
#include <utility>

#include "vscard/atr.h"

namespace vscclient {

namespace vpcd = vscard::vpcd;

std::string_view to_string(ViccCard::State state) {
  switch (state) {
    case ViccCard::State::Idle: return "idle";
    case ViccCard::State::PoweringUp: return "powering up";
    case ViccCard::State::Resetting: return "resetting";
    case ViccCard::State::Ready: return "ready";
    case ViccCard::State::Busy: return "busy";
    case ViccCard::State::Failed: return "failed";
  }
  return "unknown";
}

// The decoder admits the larger of a response and an ATR; each is then checked
// against its own bound.
ViccCard::ViccCard(std::size_t max_response)
    : decoder_(std::max(max_response, vscard::kIsoMaxAtrSize)) {}

void ViccCard::start() {
  if (state_ != State::Idle) return;
  // vpcd's IFDHPowerICC: vicc_poweron, then vicc_getatr.
  vpcd::encode_control(vpcd::Control::PowerOn, output_);
  vpcd::encode_control(vpcd::Control::GetAtr, output_);
  state_ = State::PoweringUp;
}

ViccCard::Event ViccCard::fail(std::string reason) {
  state_ = State::Failed;
  failure_ = reason;
  output_.clear();
  return Event{Event::Kind::Failed, {}, std::move(reason)};
}

std::vector<ViccCard::Event> ViccCard::receive(vscard::Bytes data) {
  std::vector<Event> events;
  while (state_ != State::Failed) {
    vpcd::Frame frame;
    vpcd::FrameStatus status = decoder_.next(data, frame);
    if (status == vpcd::FrameStatus::NeedMoreInput) break;
    if (status == vpcd::FrameStatus::Fatal) {
      events.push_back(fail("announced a frame of " + std::to_string(decoder_.refused_length()) +
                            " bytes, more than the " +
                            std::to_string(decoder_.max_frame_data()) + " allowed"));
      break;
    }
    if (frame.data.empty()) {
      // vicc_transmit: an empty answer is a failed card, and vpcd ejects it.
      events.push_back(fail("sent an empty frame (a failed card, as vpcd reads it)"));
      break;
    }
    std::vector<std::uint8_t> bytes(frame.data.begin(), frame.data.end());
    switch (state_) {
      case State::PoweringUp:
      case State::Resetting: {
        if (bytes.size() > vscard::kIsoMaxAtrSize) {
          events.push_back(fail("answered get ATR with " + std::to_string(bytes.size()) +
                                " bytes; an ATR has at most 33 (ISO 7816-3)"));
          break;
        }
        const bool reset = state_ == State::Resetting;
        atr_ = bytes;
        state_ = State::Ready;
        events.push_back(
            Event{reset ? Event::Kind::Reset : Event::Kind::Inserted, std::move(bytes), {}});
        break;
      }
      case State::Busy:
        state_ = State::Ready;
        events.push_back(Event{Event::Kind::Response, std::move(bytes), {}});
        break;
      case State::Idle:
      case State::Ready:
        // vpcd sends one request and reads one answer (io_lock); anything else
        // from the card is not an answer to anything.
        events.push_back(fail("sent a frame of " + std::to_string(bytes.size()) +
                              " bytes nobody asked for (two answers to one command?)"));
        break;
      case State::Failed:
        break;
    }
  }
  return events;
}

bool ViccCard::send_command(vscard::Bytes apdu, std::string* error) {
  if (state_ != State::Ready) {
    if (error) *error = "the card is " + std::string(to_string(state_));
    return false;
  }
  vpcd::EncodeError e = vpcd::encode_command(apdu, output_);
  if (e != vpcd::EncodeError::None) {
    if (error) {
      *error = "cannot pass a command of " + std::to_string(apdu.size()) +
               " bytes to a vpcd card: " + std::string(vpcd::to_string(e));
    }
    return false;
  }
  state_ = State::Busy;
  return true;
}

bool ViccCard::power(vpcd::Control control, std::string* error) {
  if (state_ != State::Ready || control == vpcd::Control::GetAtr) {
    if (error) *error = "the card is " + std::string(to_string(state_));
    return false;
  }
  vpcd::encode_control(control, output_);
  if (control != vpcd::Control::PowerOff) {
    vpcd::encode_control(vpcd::Control::GetAtr, output_);
    state_ = State::Resetting;
  }
  return true;
}

std::string ViccCard::timed_out(const std::string& limit_text) {
  std::string reason = state_ == State::PoweringUp || state_ == State::Resetting
                           ? "sent no ATR within " + limit_text
                           : "sent no response within " + limit_text;
  fail(reason);
  return reason;
}

std::string ViccCard::closed_reason() const {
  if (decoder_.buffered() == 0) return "closed the connection";
  if (decoder_.buffered() < vpcd::kLengthSize) {
    return "closed the connection in the middle of a frame's length";
  }
  return "closed the connection in the middle of a frame (" +
         std::to_string(decoder_.buffered() - vpcd::kLengthSize) + " of " +
         std::to_string(decoder_.partial_length()) + " bytes)";
}

void ViccCard::consume_output(std::size_t n) {
  output_.erase(output_.begin(), output_.begin() + static_cast<std::ptrdiff_t>(std::min(n, output_.size())));
}

}  // namespace vscclient
