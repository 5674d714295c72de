// SPDX-License-Identifier: LGPL-2.1-or-later
// vpcd frame codec; the format is described in vscard/vpcd_frame.h.
#include "vscard/vpcd_frame.h"

#include <algorithm>

namespace vscard::vpcd {

std::string_view to_string(Control control) {
  switch (control) {
    case Control::PowerOff: return "power off";
    case Control::PowerOn: return "power on";
    case Control::Reset: return "reset";
    case Control::GetAtr: return "get ATR";
  }
  return "unknown";
}

std::string_view to_string(FrameError error) {
  switch (error) {
    case FrameError::None: return "no error";
    case FrameError::TooLarge: return "frame length over the limit";
  }
  return "unknown error";
}

std::string_view to_string(EncodeError error) {
  switch (error) {
    case EncodeError::None: return "no error";
    case EncodeError::Empty: return "empty frame";
    case EncodeError::TooLong: return "longer than a vpcd frame (65535 bytes)";
    case EncodeError::ReadsAsControl: return "a 1-byte command reads as a vpcd control code";
  }
  return "unknown error";
}

Frame classify(Bytes data) {
  Frame frame;
  frame.data = data;
  if (data.empty()) {
    frame.kind = FrameKind::Empty;
    return frame;
  }
  if (data.size() == 1) {
    frame.raw_control = data[0];
    switch (data[0]) {
      case 0: case 1: case 2: case 4:
        frame.kind = FrameKind::Control;
        frame.control = static_cast<Control>(data[0]);
        break;
      default:
        frame.kind = FrameKind::UnknownControl;
    }
    return frame;
  }
  frame.kind = FrameKind::Apdu;
  return frame;
}

static std::size_t frame_length(const std::uint8_t* p) {
  return (static_cast<std::size_t>(p[0]) << 8) | p[1];
}

FrameDecoder::FrameDecoder(std::size_t max_frame_data)
    : max_frame_data_(std::min(max_frame_data, kMaxFrameData)) {}

std::size_t FrameDecoder::partial_length() const {
  return buffer_.size() >= kLengthSize ? frame_length(buffer_.data()) : 0;
}

void FrameDecoder::reset() {
  buffer_.clear();
  last_.clear();
  error_ = FrameError::None;
  refused_length_ = 0;
}

FrameStatus FrameDecoder::next(Bytes& input, Frame& frame) {
  if (error_ != FrameError::None) return FrameStatus::Fatal;
  if (buffer_.empty() && input.size() >= kLengthSize) {
    std::size_t length = frame_length(input.data());
    if (length > max_frame_data_) {
      error_ = FrameError::TooLarge;
      refused_length_ = length;
      return FrameStatus::Fatal;
    }
    // Fast path: a whole frame lies in the input; return a view, no copy.
    if (input.size() >= kLengthSize + length) {
      frame = classify(input.subspan(kLengthSize, length));
      input = input.subspan(kLengthSize + length);
      return FrameStatus::Frame;
    }
  }
  while (!input.empty()) {
    std::size_t want = kLengthSize;
    if (buffer_.size() >= kLengthSize) want += frame_length(buffer_.data());
    std::size_t take = std::min(want - buffer_.size(), input.size());
    buffer_.insert(buffer_.end(), input.begin(), input.begin() + static_cast<std::ptrdiff_t>(take));
    input = input.subspan(take);
    if (buffer_.size() == kLengthSize && frame_length(buffer_.data()) > max_frame_data_) {
      error_ = FrameError::TooLarge;
      refused_length_ = frame_length(buffer_.data());
      buffer_.clear();
      return FrameStatus::Fatal;
    }
    if (buffer_.size() >= kLengthSize &&
        buffer_.size() == kLengthSize + frame_length(buffer_.data())) {
      // Move the frame out so the view survives the buffer's reuse by the
      // next call; `last_` keeps it alive until then.
      last_.swap(buffer_);
      buffer_.clear();
      frame = classify(Bytes(last_).subspan(kLengthSize));
      return FrameStatus::Frame;
    }
  }
  return FrameStatus::NeedMoreInput;
}

EncodeError encode_frame(Bytes data, std::vector<std::uint8_t>& out) {
  if (data.empty()) return EncodeError::Empty;
  if (data.size() > kMaxFrameData) return EncodeError::TooLong;
  out.push_back(static_cast<std::uint8_t>(data.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(data.size() & 0xFF));
  out.insert(out.end(), data.begin(), data.end());
  return EncodeError::None;
}

EncodeError encode_command(Bytes apdu, std::vector<std::uint8_t>& out) {
  // vicc's run() and vpcd's protocol tell a control code from a command by its
  // length alone (VPCD_CTRL_LEN 1).
  if (apdu.size() == 1) return EncodeError::ReadsAsControl;
  return encode_frame(apdu, out);
}

void encode_control(Control control, std::vector<std::uint8_t>& out) {
  out.push_back(0);
  out.push_back(1);
  out.push_back(static_cast<std::uint8_t>(control));
}

}  // namespace vscard::vpcd
