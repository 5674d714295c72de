// vschost/vpcd_frame: vsmartcard vpcd's 2-byte-length framing (vpcd.c, vpcd.h).
#include "vpcd_frame.h"

#include <gtest/gtest.h>

#include <vector>

namespace vpcd = vschost::vpcd;
using Vec = std::vector<std::uint8_t>;

namespace {

std::vector<Vec> decode_all(vpcd::FrameDecoder& decoder, const Vec& bytes, std::size_t chunk) {
  std::vector<Vec> frames;
  for (std::size_t i = 0; i < bytes.size(); i += chunk) {
    vpcd::Bytes input(bytes.data() + i, std::min(chunk, bytes.size() - i));
    vpcd::Frame frame;
    while (decoder.next(input, frame)) frames.emplace_back(frame.data.begin(), frame.data.end());
  }
  return frames;
}

}  // namespace

TEST(VpcdFrame, ControlCodesAreOneByteFrames) {
  // VPCD_CTRL_OFF 0, ON 1, RESET 2, ATR 4 (vpcd.h).
  const std::pair<std::uint8_t, vpcd::Control> cases[] = {
      {0, vpcd::Control::PowerOff}, {1, vpcd::Control::PowerOn},
      {2, vpcd::Control::Reset}, {4, vpcd::Control::GetAtr}};
  for (auto [code, control] : cases) {
    Vec bytes{0x00, 0x01, code};
    vpcd::FrameDecoder decoder;
    vpcd::Bytes input(bytes);
    vpcd::Frame frame;
    ASSERT_TRUE(decoder.next(input, frame));
    EXPECT_EQ(frame.kind, vpcd::FrameKind::Control);
    EXPECT_EQ(frame.control, control);
    EXPECT_TRUE(input.empty());
  }
}

TEST(VpcdFrame, UnknownControlCodeIsReportedNotGuessed) {
  for (std::uint8_t code : {3, 5, 0xFF}) {
    auto frame = vpcd::classify(vpcd::Bytes(&code, 1));
    EXPECT_EQ(frame.kind, vpcd::FrameKind::UnknownControl);
    EXPECT_EQ(frame.raw_control, code);
  }
}

TEST(VpcdFrame, LongerFramesAreApdus) {
  Vec bytes{0x00, 0x05, 0x00, 0x84, 0x00, 0x00, 0x08};
  vpcd::FrameDecoder decoder;
  vpcd::Bytes input(bytes);
  vpcd::Frame frame;
  ASSERT_TRUE(decoder.next(input, frame));
  EXPECT_EQ(frame.kind, vpcd::FrameKind::Apdu);
  EXPECT_EQ(Vec(frame.data.begin(), frame.data.end()), (Vec{0x00, 0x84, 0x00, 0x00, 0x08}));
  // Two bytes are not a valid APDU, but judging it is the card's job.
  Vec two{0x12, 0x34};
  EXPECT_EQ(vpcd::classify(two).kind, vpcd::FrameKind::Apdu);
}

TEST(VpcdFrame, EmptyFrameIsItsOwnKind) {
  Vec bytes{0x00, 0x00, 0x00, 0x01, 0x04};
  vpcd::FrameDecoder decoder;
  vpcd::Bytes input(bytes);
  vpcd::Frame frame;
  ASSERT_TRUE(decoder.next(input, frame));
  EXPECT_EQ(frame.kind, vpcd::FrameKind::Empty);
  ASSERT_TRUE(decoder.next(input, frame));
  EXPECT_EQ(frame.control, vpcd::Control::GetAtr);
}

TEST(VpcdFrame, AnySplitGivesTheSameFrames) {
  Vec stream;
  vpcd::encode_control(vpcd::Control::GetAtr, stream);
  Vec apdu(300);
  for (std::size_t i = 0; i < apdu.size(); ++i) apdu[i] = static_cast<std::uint8_t>(i);
  ASSERT_TRUE(vpcd::encode_frame(apdu, stream));
  vpcd::encode_control(vpcd::Control::PowerOff, stream);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7},
                            std::size_t{301}, stream.size()}) {
    vpcd::FrameDecoder decoder;
    auto frames = decode_all(decoder, stream, chunk);
    ASSERT_EQ(frames.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(frames[0], Vec{4});
    EXPECT_EQ(frames[1], apdu);
    EXPECT_EQ(frames[2], Vec{0});
    EXPECT_EQ(decoder.buffered(), 0u);
  }
}

TEST(VpcdFrame, PartialFrameIsBufferedAndBounded) {
  // The largest length the format allows: the decoder waits, holding the bytes.
  Vec bytes{0xFF, 0xFF, 0x00, 0xA4};
  vpcd::FrameDecoder decoder;
  vpcd::Bytes input(bytes);
  vpcd::Frame frame;
  EXPECT_FALSE(decoder.next(input, frame));
  EXPECT_EQ(decoder.buffered(), 4u);
  Vec rest(0xFFFF - 2, 0x5A);
  vpcd::Bytes more(rest);
  ASSERT_TRUE(decoder.next(more, frame));
  EXPECT_EQ(frame.data.size(), 0xFFFFu);
  EXPECT_EQ(decoder.buffered(), 0u);
  decoder.reset();
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(VpcdFrame, EncodeIsBigEndianLengthThenData) {
  Vec out;
  Vec atr{0x3B, 0x80, 0x80, 0x01, 0x01};
  ASSERT_TRUE(vpcd::encode_frame(atr, out));
  EXPECT_EQ(out, (Vec{0x00, 0x05, 0x3B, 0x80, 0x80, 0x01, 0x01}));
  Vec big(0x1234, 0);
  out.clear();
  ASSERT_TRUE(vpcd::encode_frame(big, out));
  EXPECT_EQ(out[0], 0x12);
  EXPECT_EQ(out[1], 0x34);
}

TEST(VpcdFrame, EncodeRefusesEmptyAndOversizedData) {
  Vec out{0xAA};
  EXPECT_FALSE(vpcd::encode_frame(vpcd::Bytes(), out));
  Vec too_big(0x10000, 0);
  EXPECT_FALSE(vpcd::encode_frame(too_big, out));
  EXPECT_EQ(out, Vec{0xAA});
  Vec max(0xFFFF, 0);
  EXPECT_TRUE(vpcd::encode_frame(max, out));
  EXPECT_EQ(out.size(), 1u + 2u + 0xFFFFu);
}
