// SPDX-License-Identifier: LGPL-2.1-or-later
// Fuzz target: libvscard's vpcd frame codec (vscard/vpcd_frame.h).
//
// Either side may be the peer (vpcd, or a card program); what it sends is cut
// into chunks whose sizes the fuzzer chooses, as in decoder_split_fuzzer, under
// a frame size limit it also chooses. The chunked decode must give the frames
// (and the Fatal error) of the one-piece decode, consume all input up to a
// Fatal, buffer at most one frame within the limit, classify every frame by its
// length as the format says, and each frame re-encoded must be the bytes it
// came from.
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_check.h"
#include <array>

#include "vscard/vpcd_frame.h"

using namespace vscard::vpcd;
using vscard::Bytes;

namespace {

// The format's own limit first (seeds use index 0), then the edges: nothing,
// one byte (controls only), an ATR, a short response, a short response + 3.
constexpr std::array<std::size_t, 7> kLimits{kMaxFrameData, 0, 1, 2, 33, 258, 261};

// A frame, or (fatal) the length the decoder refused.
struct Seen {
  FrameKind kind;
  std::uint8_t raw_control;
  std::vector<std::uint8_t> data;
  bool fatal = false;
  std::size_t refused_length = 0;
  friend bool operator==(const Seen&, const Seen&) = default;
};

// Feeds one chunk; false once Fatal was seen.
bool feed(FrameDecoder& decoder, Bytes input, std::vector<Seen>& out) {
  Frame frame;
  for (;;) {
    FrameStatus status = decoder.next(input, frame);
    FUZZ_CHECK(decoder.buffered() <= kLengthSize + decoder.max_frame_data());
    if (status == FrameStatus::NeedMoreInput) {
      FUZZ_CHECK(input.empty());
      return true;
    }
    if (status == FrameStatus::Fatal) {
      FUZZ_CHECK(decoder.error() == FrameError::TooLarge);
      FUZZ_CHECK(decoder.refused_length() > decoder.max_frame_data());
      // A fatal decoder repeats itself and consumes nothing more.
      Bytes again = input;
      FUZZ_CHECK(decoder.next(again, frame) == FrameStatus::Fatal && again.size() == input.size());
      out.push_back({FrameKind::Empty, 0, {}, true, decoder.refused_length()});
      return false;
    }
    FUZZ_CHECK(frame.data.size() <= decoder.max_frame_data());
    switch (frame.kind) {
      case FrameKind::Empty: FUZZ_CHECK(frame.data.empty()); break;
      case FrameKind::Control:
      case FrameKind::UnknownControl:
        FUZZ_CHECK(frame.data.size() == 1 && frame.raw_control == frame.data[0]);
        break;
      case FrameKind::Apdu: FUZZ_CHECK(frame.data.size() >= 2); break;
    }
    std::vector<std::uint8_t> again;
    if (encode_frame(frame.data, again) == EncodeError::None) {
      FUZZ_CHECK(again.size() == kLengthSize + frame.data.size());
      FUZZ_CHECK(((again[0] << 8) | again[1]) == static_cast<int>(frame.data.size()));
      Bytes re(again);
      FrameDecoder second;
      Frame f2;
      FUZZ_CHECK(second.next(re, f2) == FrameStatus::Frame && re.empty());
      FUZZ_CHECK(f2.kind == frame.kind &&
                 std::equal(f2.data.begin(), f2.data.end(), frame.data.begin(), frame.data.end()));
    } else {
      FUZZ_CHECK(frame.data.empty() && again.empty());
    }
    // A command frame of 1 byte would read as a control code: encode_command refuses it.
    std::vector<std::uint8_t> command;
    EncodeError ce = encode_command(frame.data, command);
    FUZZ_CHECK((ce == EncodeError::None) == (frame.data.size() >= 2));
    out.push_back({frame.kind, frame.raw_control, {frame.data.begin(), frame.data.end()}});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const std::size_t limit = fdp.PickValueInArray(kLimits);
  std::vector<std::vector<std::uint8_t>> chunks;
  std::vector<std::uint8_t> stream;
  while (fdp.remaining_bytes() > 0) {
    const auto n = fdp.ConsumeIntegralInRange<std::size_t>(0, 64);
    chunks.push_back(fdp.ConsumeBytes<std::uint8_t>(n));
    stream.insert(stream.end(), chunks.back().begin(), chunks.back().end());
  }
  std::vector<Seen> whole, split;
  {
    FrameDecoder decoder(limit);
    feed(decoder, Bytes(stream), whole);
  }
  FrameDecoder decoder(limit);
  for (const auto& chunk : chunks) {
    if (!feed(decoder, Bytes(chunk), split)) break;
  }
  FUZZ_CHECK(split == whole);
  return 0;
}
