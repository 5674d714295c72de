// SPDX-License-Identifier: LGPL-2.1-or-later
// Encoder tests: byte-exact vectors from libcacard's vscard_common.h structs.
#include <gtest/gtest.h>

#include "vscard/message.h"
#include "wire_vectors.h"

namespace vscard {
namespace {

TEST(Version, PacksElevenElevenTenBitsLikeLibcacard) {
  EXPECT_EQ(kProtocolVersion, 2u);  // MAKE_VERSION(0,0,2)
  EXPECT_EQ(make_version(1, 2, 3), (1u << 21) | (2u << 10) | 3u);
  const std::uint32_t v = make_version(2047, 2047, 1023);
  EXPECT_EQ(v, 0xFFFFFFFFu);
  EXPECT_EQ(version_major(make_version(5, 6, 7)), 5u);
  EXPECT_EQ(version_middle(make_version(5, 6, 7)), 6u);
  EXPECT_EQ(version_minor(make_version(5, 6, 7)), 7u);
}

TEST(Magic, IsTheBytesVSCDInOrder) {
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(encode(Message{kUndefinedReaderId, Init{}}, out));
  EXPECT_EQ(std::string(out.begin() + 12, out.begin() + 16), "VSCD");
}

TEST(Encode, EveryVectorIsByteExact) {
  for (const auto& v : test::wire_vectors()) {
    std::vector<std::uint8_t> out;
    ASSERT_TRUE(encode(v.message, out)) << v.name;
    EXPECT_EQ(out, v.bytes) << v.name;
    EXPECT_EQ(payload_size(v.message) + kHeaderSize, v.bytes.size()) << v.name;
    EXPECT_EQ(v.message.type(), v.bytes[3]) << v.name;
  }
}

TEST(Encode, AppendsAfterExistingBytes) {
  std::vector<std::uint8_t> out{0xAA};
  ASSERT_TRUE(encode(Message{0, Flush{}}, out));
  ASSERT_EQ(out.size(), 13u);
  EXPECT_EQ(out[0], 0xAA);
  EXPECT_EQ(out[4], 8);
}

TEST(Encode, DoesNotReallocateWhenCapacitySuffices) {
  std::vector<std::uint8_t> out;
  out.reserve(1024);
  const auto* data = out.data();
  const std::vector<std::uint8_t> apdu(500, 0x42);
  for (int i = 0; i < 2; ++i) {
    out.clear();
    ASSERT_TRUE(encode(Message{0, Apdu{apdu}}, out));
    EXPECT_EQ(out.data(), data);
  }
}

TEST(Encode, RefusesMessagesOverTheLimit) {
  const std::vector<std::uint8_t> at_limit(kDefaultMaxMessageSize - kHeaderSize, 1);
  const std::vector<std::uint8_t> over(kDefaultMaxMessageSize - kHeaderSize + 1, 1);
  std::vector<std::uint8_t> out;
  EXPECT_TRUE(encode(Message{0, Apdu{at_limit}}, out));
  EXPECT_EQ(out.size(), kDefaultMaxMessageSize);
  out.clear();
  EXPECT_FALSE(encode(Message{0, Apdu{over}}, out));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(encode(Message{0, Apdu{at_limit}}, out, 100));
}

TEST(Encode, RefusesReconnectFieldsThatCannotBeNulTerminated) {
  std::vector<std::uint8_t> out;
  const std::string long_host(kReconnectFieldSize, 'h');
  EXPECT_FALSE(encode(Message{0, Reconnect{long_host, "1"}}, out));
  const std::string max_host(kReconnectFieldSize - 1, 'h');
  EXPECT_TRUE(encode(Message{0, Reconnect{max_host, "1"}}, out));
  out.clear();
  EXPECT_FALSE(encode(Message{0, Reconnect{std::string_view("a\0b", 3), "1"}}, out));
  EXPECT_TRUE(out.empty());
}

TEST(Names, TypesAndErrorCodes) {
  EXPECT_EQ(to_string(MessageType::Apdu), "APDU");
  EXPECT_EQ(to_string(static_cast<MessageType>(99)), "Unknown");
  EXPECT_EQ(to_string(ErrorCode::CannotAddMoreReaders), "cannot add more readers");
  EXPECT_TRUE(is_known_type(11));
  EXPECT_FALSE(is_known_type(0));
  EXPECT_FALSE(is_known_type(12));
}

}  // namespace
}  // namespace vscard
