// SPDX-License-Identifier: LGPL-2.1-or-later
// Fuzz target: decode -> encode -> decode is stable.
//
// Every message the Decoder accepts must re-encode within the limit it was
// decoded under (the encoder never produces more than it was given: Init keeps
// at most Capabilities::kMaxCapabilityWords words, a trailing NUL of a reader
// name is dropped, payloads of bodiless types are dropped), and decoding that
// encoding must give one message whose encoding is the same bytes.
#include "fuzz_check.h"

using namespace vscard;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The first byte picks the limit: 0xF0..0xFF a small one, so that the encoder's
  // size check meets messages right at the edge; anything else QEMU's 64 KiB.
  if (size == 0) return 0;
  std::size_t limit = kDefaultMaxMessageSize;
  if (data[0] >= 0xF0) limit = kHeaderSize + (data[0] - 0xF0u) * 4u;

  Bytes input(data + 1, size - 1);
  Decoder decoder(limit);
  for (;;) {
    Decoded d = decoder.next(input);
    if (d.status == DecodeStatus::NeedMoreInput || d.status == DecodeStatus::Fatal) break;
    if (d.status != DecodeStatus::Message) continue;

    std::vector<std::uint8_t> first;
    FUZZ_CHECK(encode(d.message, first, limit));
    FUZZ_CHECK(first.size() == kHeaderSize + payload_size(d.message));
    FUZZ_CHECK(first.size() <= kHeaderSize + d.header.length);

    // The encoding of a known message is never larger than the limit: one byte
    // less must be refused by the encoder and append nothing.
    std::vector<std::uint8_t> refused;
    FUZZ_CHECK(!encode(d.message, refused, first.size() - 1));
    FUZZ_CHECK(refused.empty());

    Decoder second(limit);
    Bytes again(first);
    Decoded r = second.next(again);
    FUZZ_CHECK(r.status == DecodeStatus::Message);
    FUZZ_CHECK(again.empty());
    FUZZ_CHECK(r.message.type() == d.message.type());
    FUZZ_CHECK(r.message.reader_id == d.message.reader_id);
    std::vector<std::uint8_t> second_bytes;
    FUZZ_CHECK(encode(r.message, second_bytes, limit));
    FUZZ_CHECK(second_bytes == first);
    Bytes rest = again;
    FUZZ_CHECK(second.next(rest).status == DecodeStatus::NeedMoreInput);
  }
  return 0;
}
