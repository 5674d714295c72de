// vpcd frame codec; the format is described in vpcd_frame.h.
#include "vpcd_frame.h"

#include <algorithm>

namespace vschost::vpcd {

std::string_view to_string(Control control) {
  switch (control) {
    case Control::PowerOff: return "power off";
    case Control::PowerOn: return "power on";
    case Control::Reset: return "reset";
    case Control::GetAtr: return "get ATR";
  }
  return "unknown";
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

bool FrameDecoder::next(Bytes& input, Frame& frame) {
  if (buffer_.empty() && input.size() >= kLengthSize) {
    // Fast path: a whole frame lies in the input; return a view, no copy.
    std::size_t length = frame_length(input.data());
    if (input.size() >= kLengthSize + length) {
      frame = classify(input.subspan(kLengthSize, length));
      input = input.subspan(kLengthSize + length);
      return true;
    }
  }
  while (!input.empty()) {
    std::size_t want = kLengthSize;
    if (buffer_.size() >= kLengthSize) want += frame_length(buffer_.data());
    std::size_t take = std::min(want - buffer_.size(), input.size());
    buffer_.insert(buffer_.end(), input.begin(), input.begin() + static_cast<std::ptrdiff_t>(take));
    input = input.subspan(take);
    if (buffer_.size() >= kLengthSize &&
        buffer_.size() == kLengthSize + frame_length(buffer_.data())) {
      // Move the frame out so the view survives the buffer's reuse by the
      // next call; `last_` keeps it alive until then.
      last_.swap(buffer_);
      buffer_.clear();
      frame = classify(Bytes(last_).subspan(kLengthSize));
      return true;
    }
  }
  return false;
}

bool encode_frame(Bytes data, std::vector<std::uint8_t>& out) {
  if (data.empty() || data.size() > kMaxFrameData) return false;
  out.push_back(static_cast<std::uint8_t>(data.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(data.size() & 0xFF));
  out.insert(out.end(), data.begin(), data.end());
  return true;
}

void encode_control(Control control, std::vector<std::uint8_t>& out) {
  out.push_back(0);
  out.push_back(1);
  out.push_back(static_cast<std::uint8_t>(control));
}

}  // namespace vschost::vpcd
