// SPDX-License-Identifier: LGPL-2.1-or-later
// ExportSlot: the rules are in vpcd_export_slot.h.
#include "vpcd_export_slot.h"

#include <algorithm>
#include <utility>

namespace vschost::vpcd {

namespace {
const std::vector<std::uint8_t> kNoAtr;
const std::string kNoReason;
}  // namespace

const std::vector<std::uint8_t>& ExportSlot::atr() const { return atr_ ? *atr_ : kNoAtr; }

const std::string& ExportSlot::close_reason() const {
  return close_reason_ ? *close_reason_ : kNoReason;
}

void ExportSlot::request_close(std::string reason) {
  if (!close_reason_) close_reason_ = std::move(reason);
}

void ExportSlot::insert_card(Bytes atr) {
  std::vector<std::uint8_t> next(atr.begin(), atr.end());
  if (atr_ && *atr_ == next) return;
  const bool had_card = atr_.has_value();
  atr_ = std::move(next);
  // vpcd has no way to learn of a card swap but a disconnect: the old card goes,
  // then the new one comes when we connect again.
  if (had_card && connected_) request_close("the card changed (new ATR)");
}

void ExportSlot::remove_card() {
  atr_.reset();
  command_.reset();
  if (connected_) request_close("the card was removed");
}

void ExportSlot::connected() {
  connected_ = true;
  decoder_.reset();
  output_.clear();
  command_.reset();
  outstanding_ = false;
  close_reason_.reset();
  ++stats_.connections;
  // Connected without a card (removed while connecting): let vpcd see it go.
  if (!atr_) request_close("the card was removed");
}

void ExportSlot::disconnected() {
  connected_ = false;
  decoder_.reset();
  output_.clear();
  command_.reset();
  outstanding_ = false;
  close_reason_.reset();
}

void ExportSlot::receive(Bytes data) {
  Frame frame;
  // The decoder's limit is the format's own (16-bit length): never Fatal here.
  while (decoder_.next(data, frame) == FrameStatus::Frame) {
    if (close_requested()) return;  // the connection is going; nothing more to say
    handle(frame);
  }
}

void ExportSlot::handle(const Frame& frame) {
  if (outstanding_) {
    // vpcd holds its per-slot io_lock from sending an APDU until it has read the
    // answer (vicc_transmit), so another frame now means the peer is not vpcd.
    request_close("vpcd sent a frame before the answer to its APDU");
    return;
  }
  switch (frame.kind) {
    case FrameKind::Empty:
    case FrameKind::UnknownControl:
      // vpcd never sends these; vicc logs and ignores them, and so do we.
      return;
    case FrameKind::Control:
      if (frame.control != Control::GetAtr) {
        ++stats_.power_events;  // no answer: vpcd reads none (sendToVICC only)
        if (power_events_.size() >= 16) power_events_.erase(power_events_.begin());
        power_events_.push_back(frame.control);
        return;
      }
      ++stats_.atr_polls;
      if (!atr_ || encode_frame(*atr_, output_) != EncodeError::None) {
        // An empty answer would make vpcd eject the card anyway; say why.
        request_close("no ATR to answer vpcd's get ATR with");
      }
      return;
    case FrameKind::Apdu:
      if (!atr_) {
        request_close("the card was removed");
        return;
      }
      command_.emplace(frame.data.begin(), frame.data.end());
      outstanding_ = true;
      ++stats_.apdus;
      return;
  }
}

std::optional<std::vector<std::uint8_t>> ExportSlot::take_command() {
  auto command = std::move(command_);
  command_.reset();
  return command;
}

void ExportSlot::answer(std::optional<std::vector<std::uint8_t>> response,
                        std::optional<std::uint32_t> error) {
  if (!outstanding_) return;  // the connection this command came on is gone
  outstanding_ = false;
  command_.reset();
  if (response && encode_frame(*response, output_) == EncodeError::None) {
    ++stats_.responses;
    return;
  }
  if (response && !response->empty()) {
    request_close("the card's response is longer than a vpcd frame (65535 bytes)");
  } else if (response) {
    request_close("the client answered with an empty response");
  } else if (error) {
    request_close("the client answered the APDU with VSCard Error " + std::to_string(*error));
  } else {
    request_close("the card or its client went away before answering");
  }
}

std::vector<Control> ExportSlot::take_power_events() {
  std::vector<Control> events;
  events.swap(power_events_);
  return events;
}

void ExportSlot::consume_output(std::size_t n) {
  n = std::min(n, output_.size());
  output_.erase(output_.begin(), output_.begin() + static_cast<std::ptrdiff_t>(n));
}

}  // namespace vschost::vpcd
