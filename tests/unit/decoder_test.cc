// SPDX-License-Identifier: LGPL-2.1-or-later
// Decoder tests: every vector whole, byte by byte and in random splits; a seeded
// random round trip over all types and sizes; every malformed case.
#include <gtest/gtest.h>

#include <random>

#include "vscard/decoder.h"
#include "wire/byte_order.h"
#include "wire_vectors.h"

namespace vscard {
namespace {

std::vector<std::uint8_t> reencode(const Message& m) {
  std::vector<std::uint8_t> out;
  EXPECT_TRUE(encode(m, out, 1u << 20));
  return out;
}

// Feeds `stream` in chunks whose sizes come from `next_chunk`, collecting the
// re-encoded bytes of every decoded message.
template <class ChunkFn>
std::vector<std::vector<std::uint8_t>> decode_all(Decoder& d, const std::vector<std::uint8_t>& stream,
                                                  ChunkFn next_chunk) {
  std::vector<std::vector<std::uint8_t>> out;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    const std::size_t n = std::min(next_chunk(), stream.size() - pos);
    Bytes input(stream.data() + pos, n);
    pos += n;
    for (;;) {
      Decoded r = d.next(input);
      if (r.status == DecodeStatus::NeedMoreInput) break;
      EXPECT_EQ(r.status, DecodeStatus::Message) << to_string(r.error);
      if (r.status != DecodeStatus::Message) return out;
      out.push_back(reencode(r.message));
    }
    EXPECT_TRUE(input.empty());
  }
  return out;
}

TEST(Decoder, EveryVectorWhole) {
  for (const auto& v : test::wire_vectors()) {
    Decoder d;
    Bytes input(v.bytes);
    Decoded r = d.next(input);
    ASSERT_EQ(r.status, DecodeStatus::Message) << v.name;
    EXPECT_TRUE(input.empty()) << v.name;
    EXPECT_EQ(r.message.type(), v.message.type()) << v.name;
    EXPECT_EQ(r.message.reader_id, v.message.reader_id) << v.name;
    EXPECT_EQ(reencode(r.message), v.bytes) << v.name;
    EXPECT_EQ(d.next(input).status, DecodeStatus::NeedMoreInput) << v.name;
  }
}

TEST(Decoder, EveryVectorOneByteAtATime) {
  for (const auto& v : test::wire_vectors()) {
    Decoder d;
    auto got = decode_all(d, v.bytes, [] { return std::size_t{1}; });
    ASSERT_EQ(got.size(), 1u) << v.name;
    EXPECT_EQ(got[0], v.bytes) << v.name;
  }
}

TEST(Decoder, AllVectorsAsOneStreamInRandomSplits) {
  std::vector<std::uint8_t> stream;
  std::vector<std::vector<std::uint8_t>> expected;
  for (const auto& v : test::wire_vectors()) {
    stream.insert(stream.end(), v.bytes.begin(), v.bytes.end());
    expected.push_back(v.bytes);
  }
  std::mt19937 rng(20261122);
  for (int round = 0; round < 200; ++round) {
    Decoder d;
    std::uniform_int_distribution<std::size_t> chunk(1, 40);
    EXPECT_EQ(decode_all(d, stream, [&] { return chunk(rng); }), expected) << round;
  }
}

TEST(Decoder, DecodedFieldsMatch) {
  Decoder d;
  auto vectors = test::wire_vectors();
  for (const auto& v : vectors) {
    Bytes input(v.bytes);
    Decoded r = d.next(input);
    ASSERT_EQ(r.status, DecodeStatus::Message);
    if (auto* m = std::get_if<ReaderAdd>(&r.message.body); m && v.name == "reader_add_named") {
      EXPECT_EQ(m->name, "Lecteur é");
    }
    if (auto* m = std::get_if<Reconnect>(&r.message.body)) {
      EXPECT_EQ(m->host, "::1");
      EXPECT_EQ(m->port, "2002");
    }
    if (auto* m = std::get_if<Init>(&r.message.body); m && v.name == "init_two_capability_words") {
      EXPECT_EQ(m->capabilities.count, 2u);
      EXPECT_TRUE(m->capabilities.has(0x80000000u, 1));
      EXPECT_FALSE(m->capabilities.has(kCapabilityReconnect));
    }
    if (auto* m = std::get_if<Unknown>(&r.message.body)) {
      EXPECT_EQ(m->type, 42u);
      EXPECT_EQ(m->payload.size(), 2u);
    }
  }
}

// Random messages of every type and of sizes up to the limit, encoded, then
// decoded from random splits: what comes out is what went in.
TEST(Decoder, SeededRandomRoundTrip) {
  std::mt19937 rng(7);
  std::vector<std::vector<std::uint8_t>> payloads;
  std::vector<std::uint8_t> stream;
  std::vector<std::vector<std::uint8_t>> expected;
  const std::size_t max_payload = kDefaultMaxMessageSize - kHeaderSize;
  for (int i = 0; i < 300; ++i) {
    std::size_t size;
    switch (i % 4) {
      case 0: size = rng() % 16; break;
      case 1: size = rng() % 300; break;
      case 2: size = rng() % 5000; break;
      default: size = (i % 40 == 3) ? max_payload : rng() % max_payload;
    }
    std::vector<std::uint8_t> payload(size);
    for (auto& b : payload) b = static_cast<std::uint8_t>(rng());
    payloads.push_back(payload);
    const ReaderId reader = rng() % 3 == 0 ? kUndefinedReaderId : rng() % 8;
    const std::string port = std::to_string(i);  // outlives the view in Reconnect
    Message m{reader, Apdu{}};
    switch (rng() % 11) {
      case 0: {
        Init init;
        init.version = static_cast<std::uint32_t>(rng());
        init.capabilities.count = 1 + rng() % 4;
        for (auto& w : init.capabilities.words) w = static_cast<std::uint32_t>(rng());
        for (std::size_t k = init.capabilities.count; k < 4; ++k) init.capabilities.words[k] = 0;
        m.body = init;
        break;
      }
      case 1: m.body = Error{static_cast<std::uint32_t>(rng() % 5)}; break;
      case 2: m.body = ReaderAdd{"reader " + std::to_string(i) == "" ? "" : "PC/SC reader"}; break;
      case 3: m.body = ReaderRemove{}; break;
      case 4: m.body = Atr{Bytes(payloads.back()).first(std::min<std::size_t>(size, 40))}; break;
      case 5: m.body = CardRemove{}; break;
      case 6: m.body = Apdu{payloads.back()}; break;
      case 7: m.body = Flush{}; break;
      case 8: m.body = FlushComplete{}; break;
      case 9: m.body = Reconnect{"host.example", port}; break;
      default: m.body = Unknown{11 + static_cast<std::uint32_t>(rng() % 1000), payloads.back()};
    }
    std::vector<std::uint8_t> bytes;
    ASSERT_TRUE(encode(m, bytes));
    stream.insert(stream.end(), bytes.begin(), bytes.end());
    expected.push_back(bytes);
  }
  for (std::size_t max_chunk : {std::size_t{1} << 16, std::size_t{4096}, std::size_t{13}}) {
    Decoder d;
    std::uniform_int_distribution<std::size_t> chunk(1, max_chunk);
    auto got = decode_all(d, stream, [&] { return chunk(rng); });
    ASSERT_EQ(got.size(), expected.size()) << max_chunk;
    EXPECT_TRUE(got == expected) << max_chunk;
  }
}

std::vector<std::uint8_t> header(std::uint32_t type, std::uint32_t reader, std::uint32_t length) {
  std::vector<std::uint8_t> h(12);
  wire::store_be32(h.data(), type);
  wire::store_be32(h.data() + 4, reader);
  wire::store_be32(h.data() + 8, length);
  return h;
}

std::vector<std::uint8_t> message_bytes(std::uint32_t type, std::uint32_t reader,
                                        std::vector<std::uint8_t> payload) {
  auto m = header(type, reader, static_cast<std::uint32_t>(payload.size()));
  m.insert(m.end(), payload.begin(), payload.end());
  return m;
}

struct MalformedCase {
  const char* name;
  std::vector<std::uint8_t> bytes;
  DecodeError error;
};

TEST(Decoder, MalformedMessagesAreTypedErrorsAndDecodingContinues) {
  const std::vector<MalformedCase> cases = {
      {"init_short", message_bytes(1, 0, {'V', 'S', 'C', 'D', 0, 0, 0, 2}), DecodeError::InitTooShort},
      {"init_empty", message_bytes(1, 0, {}), DecodeError::InitTooShort},
      {"init_odd", message_bytes(1, 0, {'V', 'S', 'C', 'D', 0, 0, 0, 2, 0, 0, 0, 0, 1}),
       DecodeError::InitBadLength},
      {"init_magic", message_bytes(1, 0, {'D', 'C', 'S', 'V', 0, 0, 0, 2, 0, 0, 0, 0}),
       DecodeError::BadMagic},
      {"error_short", message_bytes(2, 0, {0, 0, 1}), DecodeError::ErrorBadLength},
      {"error_long", message_bytes(2, 0, {0, 0, 0, 1, 0}), DecodeError::ErrorBadLength},
      {"reader_name_bad_utf8", message_bytes(3, 0, {'a', 0xC3}), DecodeError::ReaderNameNotUtf8},
      {"reader_name_overlong", message_bytes(3, 0, {0xC0, 0xAF}), DecodeError::ReaderNameNotUtf8},
      {"reader_name_surrogate", message_bytes(3, 0, {0xED, 0xA0, 0x80}), DecodeError::ReaderNameNotUtf8},
      {"reader_name_inner_nul", message_bytes(3, 0, {'a', 0, 'b'}), DecodeError::ReaderNameNotUtf8},
      {"reconnect_short", message_bytes(10, 0, std::vector<std::uint8_t>(255, 0)),
       DecodeError::ReconnectBadLength},
      {"reconnect_unterminated", message_bytes(10, 0, std::vector<std::uint8_t>(256, 'x')),
       DecodeError::ReconnectNotTerminated},
  };
  const auto flush = message_bytes(8, 9, {});
  for (const auto& c : cases) {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{4096}}) {
      Decoder d;
      auto stream = c.bytes;
      stream.insert(stream.end(), flush.begin(), flush.end());
      std::vector<Decoded> results;
      for (std::size_t pos = 0; pos < stream.size(); pos += chunk) {
        Bytes input(stream.data() + pos, std::min(chunk, stream.size() - pos));
        for (Decoded r = d.next(input); r.status != DecodeStatus::NeedMoreInput; r = d.next(input)) {
          results.push_back(r);
        }
      }
      ASSERT_EQ(results.size(), 2u) << c.name;
      EXPECT_EQ(results[0].status, DecodeStatus::Malformed) << c.name;
      EXPECT_EQ(results[0].error, c.error) << c.name;
      EXPECT_EQ(results[0].header.type, c.bytes[3]) << c.name;
      EXPECT_EQ(results[1].status, DecodeStatus::Message) << c.name;
      EXPECT_EQ(results[1].message.type(), 8u) << c.name;
      EXPECT_EQ(results[1].message.reader_id, 9u) << c.name;
    }
  }
}

TEST(Decoder, ReaderNameTrailingNulIsStripped) {
  Decoder d;
  auto bytes = message_bytes(3, kUndefinedReaderId, {'R', '1', 0});
  Bytes input(bytes);
  Decoded r = d.next(input);
  ASSERT_EQ(r.status, DecodeStatus::Message);
  EXPECT_EQ(std::get<ReaderAdd>(r.message.body).name, "R1");
}

TEST(Decoder, LengthOverLimitIsFatalFromTheHeaderAlone) {
  for (std::uint32_t length : {0xFFFFFFFFu, 65525u, 0x80000000u}) {
    for (bool byte_by_byte : {false, true}) {
      Decoder d;
      auto bytes = header(7, 0, length);
      bytes.resize(bytes.size() + 100, 0x55);  // a few payload bytes follow
      Decoded r;
      Bytes input(bytes);
      if (byte_by_byte) {
        for (std::size_t i = 0; i < bytes.size() && r.status == DecodeStatus::NeedMoreInput; ++i) {
          Bytes one(bytes.data() + i, 1);
          r = d.next(one);
        }
      } else {
        r = d.next(input);
      }
      EXPECT_EQ(r.status, DecodeStatus::Fatal) << length;
      EXPECT_EQ(r.error, DecodeError::MessageTooLarge);
      EXPECT_EQ(r.header.length, length);
      EXPECT_TRUE(d.failed());
      EXPECT_LE(d.buffered(), kHeaderSize);  // nothing of the payload was buffered
      // Every later call repeats the fatal error.
      Bytes more(bytes);
      EXPECT_EQ(d.next(more).status, DecodeStatus::Fatal);
      d.reset();
      EXPECT_FALSE(d.failed());
    }
  }
}

TEST(Decoder, MessageExactlyAtTheLimitIsAccepted) {
  Decoder d;
  auto bytes = message_bytes(7, 0, std::vector<std::uint8_t>(kDefaultMaxMessageSize - kHeaderSize, 1));
  EXPECT_EQ(decode_all(d, bytes, [] { return std::size_t{1000}; }).size(), 1u);
}

TEST(Decoder, ConfigurableLimit) {
  Decoder d(100);
  auto ok = message_bytes(7, 0, std::vector<std::uint8_t>(88, 1));
  auto big = message_bytes(7, 0, std::vector<std::uint8_t>(89, 1));
  Bytes input(ok);
  EXPECT_EQ(d.next(input).status, DecodeStatus::Message);
  Bytes input2(big);
  EXPECT_EQ(d.next(input2).status, DecodeStatus::Fatal);
}

TEST(Decoder, BuffersNoMoreThanOneMessage) {
  Decoder d;
  auto bytes = message_bytes(7, 0, std::vector<std::uint8_t>(1000, 1));
  Bytes part(bytes.data(), 500);
  EXPECT_EQ(d.next(part).status, DecodeStatus::NeedMoreInput);
  EXPECT_EQ(d.buffered(), 500u);
  Bytes rest(bytes.data() + 500, bytes.size() - 500);
  EXPECT_EQ(d.next(rest).status, DecodeStatus::Message);
  Bytes none;
  EXPECT_EQ(d.next(none).status, DecodeStatus::NeedMoreInput);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(Decoder, UnknownTypeIsDeliveredNotFatal) {
  Decoder d;
  auto bytes = message_bytes(0, 4, {1, 2, 3});
  auto more = message_bytes(0x12345678, 4, {});
  bytes.insert(bytes.end(), more.begin(), more.end());
  Bytes input(bytes);
  Decoded r = d.next(input);
  ASSERT_EQ(r.status, DecodeStatus::Message);
  EXPECT_EQ(std::get<Unknown>(r.message.body).type, 0u);
  r = d.next(input);
  ASSERT_EQ(r.status, DecodeStatus::Message);
  EXPECT_EQ(std::get<Unknown>(r.message.body).type, 0x12345678u);
}

}  // namespace
}  // namespace vscard
