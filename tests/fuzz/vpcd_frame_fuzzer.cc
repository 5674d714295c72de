// Fuzz target: vschost's vpcd frame codec (vschost/vpcd_frame.h).
//
// vpcd (the pcscd driver) is the peer; what it sends is cut into chunks whose
// sizes the fuzzer chooses, as in decoder_split_fuzzer. The chunked decode must
// give the frames of the one-piece decode, consume all input, buffer at most one
// frame, classify every frame by its length as the format says, and each frame
// re-encoded must be the bytes it came from.
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_check.h"
#include "vpcd_frame.h"

using namespace vschost::vpcd;

namespace {

struct Seen {
  FrameKind kind;
  std::uint8_t raw_control;
  std::vector<std::uint8_t> data;
  friend bool operator==(const Seen&, const Seen&) = default;
};

void feed(FrameDecoder& decoder, Bytes input, std::vector<Seen>& out) {
  Frame frame;
  while (decoder.next(input, frame)) {
    FUZZ_CHECK(decoder.buffered() <= kLengthSize + kMaxFrameData);
    switch (frame.kind) {
      case FrameKind::Empty: FUZZ_CHECK(frame.data.empty()); break;
      case FrameKind::Control:
      case FrameKind::UnknownControl:
        FUZZ_CHECK(frame.data.size() == 1 && frame.raw_control == frame.data[0]);
        break;
      case FrameKind::Apdu: FUZZ_CHECK(frame.data.size() >= 2); break;
    }
    std::vector<std::uint8_t> again;
    if (encode_frame(frame.data, again)) {
      FUZZ_CHECK(again.size() == kLengthSize + frame.data.size());
      FUZZ_CHECK(((again[0] << 8) | again[1]) == static_cast<int>(frame.data.size()));
      Bytes re(again);
      FrameDecoder second;
      Frame f2;
      FUZZ_CHECK(second.next(re, f2) && re.empty());
      FUZZ_CHECK(f2.kind == frame.kind &&
                 std::equal(f2.data.begin(), f2.data.end(), frame.data.begin(), frame.data.end()));
    } else {
      FUZZ_CHECK(frame.data.empty() && again.empty());
    }
    out.push_back({frame.kind, frame.raw_control, {frame.data.begin(), frame.data.end()}});
  }
  FUZZ_CHECK(input.empty());
  FUZZ_CHECK(decoder.buffered() <= kLengthSize + kMaxFrameData);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  std::vector<std::vector<std::uint8_t>> chunks;
  std::vector<std::uint8_t> stream;
  while (fdp.remaining_bytes() > 0) {
    const auto n = fdp.ConsumeIntegralInRange<std::size_t>(0, 64);
    chunks.push_back(fdp.ConsumeBytes<std::uint8_t>(n));
    stream.insert(stream.end(), chunks.back().begin(), chunks.back().end());
  }
  std::vector<Seen> whole, split;
  {
    FrameDecoder decoder;
    feed(decoder, Bytes(stream), whole);
  }
  FrameDecoder decoder;
  for (const auto& chunk : chunks) feed(decoder, Bytes(chunk), split);
  FUZZ_CHECK(split == whole);
  return 0;
}
