// SPDX-License-Identifier: LGPL-2.1-or-later
// Fuzz target: the incremental Decoder must not depend on where the input is split.
//
// The input is cut into chunks whose sizes the fuzzer also chooses (consumed from
// the end of the input by FuzzedDataProvider, the bytes from the front), plus a
// choice of message size limit. The chunked decode must give exactly the results
// of decoding the same stream in one piece, consume every byte it is given, never
// buffer more than the limit, and keep repeating a Fatal error.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>

#include "fuzz_check.h"

using namespace vscard;
using vscard::fuzz::Outcome;

namespace {

// Limits around the interesting edges: header only, one byte of payload, small
// messages, an Init, QEMU's 64 KiB.
constexpr std::array<std::size_t, 7> kLimits{0, kHeaderSize, kHeaderSize + 1, 24, 64, 300,
                                             kDefaultMaxMessageSize};

// Feeds one chunk, appending every result; false once Fatal was seen.
bool feed(Decoder& decoder, Bytes input, std::vector<Outcome>& out) {
  for (;;) {
    const std::size_t before = input.size();
    Decoded d = decoder.next(input);
    FUZZ_CHECK(input.size() <= before);
    FUZZ_CHECK(decoder.buffered() <= decoder.max_message_size());
    if (d.status == DecodeStatus::NeedMoreInput) {
      FUZZ_CHECK(input.empty());
      return true;
    }
    if (d.status == DecodeStatus::Message) {
      FUZZ_CHECK(d.message.type() == d.header.type);
      FUZZ_CHECK(d.message.reader_id == d.header.reader_id);
      FUZZ_CHECK(kHeaderSize + d.header.length <= decoder.max_message_size());
    }
    out.push_back(vscard::fuzz::outcome_of(d));
    if (d.status == DecodeStatus::Fatal) {
      FUZZ_CHECK(decoder.failed());
      // A fatal decoder repeats its error and consumes nothing more.
      Bytes again = input;
      Decoded repeat = decoder.next(again);
      FUZZ_CHECK(repeat.status == DecodeStatus::Fatal && repeat.error == d.error);
      FUZZ_CHECK(again.size() == input.size());
      return false;
    }
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

  std::vector<Outcome> whole;
  {
    Decoder decoder(limit);
    feed(decoder, Bytes(stream), whole);
  }

  std::vector<Outcome> split;
  Decoder decoder(limit);
  for (const auto& chunk : chunks) {
    // Each chunk lives in its own allocation so that ASan sees a read past it.
    if (!feed(decoder, Bytes(chunk), split)) break;
  }
  FUZZ_CHECK(split == whole);

  // reset() forgets everything: the same stream decodes the same way again.
  decoder.reset();
  FUZZ_CHECK(!decoder.failed() && decoder.buffered() == 0);
  std::vector<Outcome> again;
  feed(decoder, Bytes(stream), again);
  FUZZ_CHECK(again == whole);
  return 0;
}
