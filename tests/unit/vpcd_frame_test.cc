// SPDX-License-Identifier: LGPL-2.1-or-later
// libvscard's vpcd codec: vsmartcard vpcd's 2-byte-length framing (vpcd.c, vpcd.h).
#include "vscard/vpcd_frame.h"

#include <gtest/gtest.h>

#include <vector>

namespace vpcd = vscard::vpcd;
using vpcd::EncodeError;
using vpcd::FrameStatus;
using Vec = std::vector<std::uint8_t>;

namespace {

std::vector<Vec> decode_all(vpcd::FrameDecoder& decoder, const Vec& bytes, std::size_t chunk) {
  std::vector<Vec> frames;
  for (std::size_t i = 0; i < bytes.size(); i += chunk) {
    vscard::Bytes input(bytes.data() + i, std::min(chunk, bytes.size() - i));
    vpcd::Frame frame;
    while (decoder.next(input, frame) == FrameStatus::Frame) frames.emplace_back(frame.data.begin(), frame.data.end());
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
    vscard::Bytes input(bytes);
    vpcd::Frame frame;
    ASSERT_EQ(decoder.next(input, frame), FrameStatus::Frame);
    EXPECT_EQ(frame.kind, vpcd::FrameKind::Control);
    EXPECT_EQ(frame.control, control);
    EXPECT_TRUE(input.empty());
  }
}

TEST(VpcdFrame, UnknownControlCodeIsReportedNotGuessed) {
  for (std::uint8_t code : {3, 5, 0xFF}) {
    auto frame = vpcd::classify(vscard::Bytes(&code, 1));
    EXPECT_EQ(frame.kind, vpcd::FrameKind::UnknownControl);
    EXPECT_EQ(frame.raw_control, code);
  }
}

TEST(VpcdFrame, LongerFramesAreApdus) {
  Vec bytes{0x00, 0x05, 0x00, 0x84, 0x00, 0x00, 0x08};
  vpcd::FrameDecoder decoder;
  vscard::Bytes input(bytes);
  vpcd::Frame frame;
  ASSERT_EQ(decoder.next(input, frame), FrameStatus::Frame);
  EXPECT_EQ(frame.kind, vpcd::FrameKind::Apdu);
  EXPECT_EQ(Vec(frame.data.begin(), frame.data.end()), (Vec{0x00, 0x84, 0x00, 0x00, 0x08}));
  // Two bytes are not a valid APDU, but judging it is the card's job.
  Vec two{0x12, 0x34};
  EXPECT_EQ(vpcd::classify(two).kind, vpcd::FrameKind::Apdu);
}

TEST(VpcdFrame, EmptyFrameIsItsOwnKind) {
  Vec bytes{0x00, 0x00, 0x00, 0x01, 0x04};
  vpcd::FrameDecoder decoder;
  vscard::Bytes input(bytes);
  vpcd::Frame frame;
  ASSERT_EQ(decoder.next(input, frame), FrameStatus::Frame);
  EXPECT_EQ(frame.kind, vpcd::FrameKind::Empty);
  ASSERT_EQ(decoder.next(input, frame), FrameStatus::Frame);
  EXPECT_EQ(frame.control, vpcd::Control::GetAtr);
}

TEST(VpcdFrame, AnySplitGivesTheSameFrames) {
  Vec stream;
  vpcd::encode_control(vpcd::Control::GetAtr, stream);
  Vec apdu(300);
  for (std::size_t i = 0; i < apdu.size(); ++i) apdu[i] = static_cast<std::uint8_t>(i);
  ASSERT_EQ(EncodeError::None, vpcd::encode_frame(apdu, stream));
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
  vscard::Bytes input(bytes);
  vpcd::Frame frame;
  EXPECT_EQ(decoder.next(input, frame), FrameStatus::NeedMoreInput);
  EXPECT_EQ(decoder.buffered(), 4u);
  Vec rest(0xFFFF - 2, 0x5A);
  vscard::Bytes more(rest);
  ASSERT_EQ(decoder.next(more, frame), FrameStatus::Frame);
  EXPECT_EQ(frame.data.size(), 0xFFFFu);
  EXPECT_EQ(decoder.buffered(), 0u);
  decoder.reset();
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(VpcdFrame, EncodeIsBigEndianLengthThenData) {
  Vec out;
  Vec atr{0x3B, 0x80, 0x80, 0x01, 0x01};
  ASSERT_EQ(EncodeError::None, vpcd::encode_frame(atr, out));
  EXPECT_EQ(out, (Vec{0x00, 0x05, 0x3B, 0x80, 0x80, 0x01, 0x01}));
  Vec big(0x1234, 0);
  out.clear();
  ASSERT_EQ(EncodeError::None, vpcd::encode_frame(big, out));
  EXPECT_EQ(out[0], 0x12);
  EXPECT_EQ(out[1], 0x34);
}

TEST(VpcdFrame, EncodeRefusesEmptyAndOversizedData) {
  Vec out{0xAA};
  EXPECT_EQ(vpcd::encode_frame(vscard::Bytes(), out), EncodeError::Empty);
  Vec too_big(0x10000, 0);
  EXPECT_EQ(vpcd::encode_frame(too_big, out), EncodeError::TooLong);
  EXPECT_EQ(out, Vec{0xAA});
  Vec max(0xFFFF, 0);
  EXPECT_EQ(vpcd::encode_frame(max, out), EncodeError::None);
  EXPECT_EQ(out.size(), 1u + 2u + 0xFFFFu);
}

TEST(VpcdFrame, LengthOverTheLimitIsFatalBeforeAnyDataIsBuffered) {
  // The reader side bounds what a card may send (e.g. the host's response limit).
  for (std::size_t chunk : {std::size_t{1}, std::size_t{4}}) {
    vpcd::FrameDecoder decoder(258);
    Vec ok{0x01, 0x02, 0x90, 0x00, 0x90, 0x00};  // 258 = 0x0102 passes...
    ok.resize(2 + 258, 0x11);
    Vec bytes = ok;
    bytes.insert(bytes.end(), {0x01, 0x03, 0xAA, 0xBB});  // ...259 does not
    std::vector<Vec> frames;
    FrameStatus last = FrameStatus::NeedMoreInput;
    for (std::size_t i = 0; i < bytes.size() && last != FrameStatus::Fatal; i += chunk) {
      vscard::Bytes input(bytes.data() + i, std::min(chunk, bytes.size() - i));
      vpcd::Frame frame;
      while ((last = decoder.next(input, frame)) == FrameStatus::Frame) {
        frames.emplace_back(frame.data.begin(), frame.data.end());
      }
    }
    EXPECT_EQ(last, FrameStatus::Fatal) << "chunk " << chunk;
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].size(), 258u);
    EXPECT_EQ(decoder.error(), vpcd::FrameError::TooLarge);
    EXPECT_EQ(decoder.refused_length(), 259u);
    EXPECT_EQ(decoder.buffered(), 0u);
    // Fatal sticks: nothing more is consumed.
    Vec more{0x00, 0x01, 0x04};
    vscard::Bytes input(more);
    vpcd::Frame frame;
    EXPECT_EQ(decoder.next(input, frame), FrameStatus::Fatal);
    EXPECT_EQ(input.size(), 3u);
    decoder.reset();
    EXPECT_EQ(decoder.next(input, frame), FrameStatus::Frame);
    EXPECT_EQ(frame.control, vpcd::Control::GetAtr);
  }
}

TEST(VpcdFrame, LimitIsCappedByTheFormat) {
  EXPECT_EQ(vpcd::FrameDecoder(1u << 20).max_frame_data(), vpcd::kMaxFrameData);
  EXPECT_EQ(vpcd::FrameDecoder().max_frame_data(), vpcd::kMaxFrameData);
}

TEST(VpcdFrame, PartialLengthReportsWhatTheFrameAnnounced) {
  vpcd::FrameDecoder decoder;
  Vec bytes{0x00};
  vscard::Bytes input(bytes);
  vpcd::Frame frame;
  EXPECT_EQ(decoder.next(input, frame), FrameStatus::NeedMoreInput);
  EXPECT_EQ(decoder.partial_length(), 0u);
  Vec rest{0x10, 0xAA};
  vscard::Bytes more(rest);
  EXPECT_EQ(decoder.next(more, frame), FrameStatus::NeedMoreInput);
  EXPECT_EQ(decoder.partial_length(), 16u);
  EXPECT_EQ(decoder.buffered(), 3u);
}

TEST(VpcdFrame, CommandsOfOneByteWouldReadAsControlCodes) {
  // vicc's run(): a frame of VPCD_CTRL_LEN (1) bytes is a control code.
  Vec out;
  Vec one{0x04};
  EXPECT_EQ(vpcd::encode_command(one, out), EncodeError::ReadsAsControl);
  EXPECT_EQ(vpcd::encode_command(vscard::Bytes(), out), EncodeError::Empty);
  EXPECT_TRUE(out.empty());
  Vec select{0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00};
  ASSERT_EQ(vpcd::encode_command(select, out), EncodeError::None);
  EXPECT_EQ(out, (Vec{0x00, 0x07, 0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00}));
  EXPECT_FALSE(vpcd::to_string(EncodeError::ReadsAsControl).empty());
}

TEST(VpcdFrame, ControlFramesAreWhatVpcdSends) {
  // vpcd.c vicc_poweron/vicc_getatr: sendToVICC(ctx, VPCD_CTRL_LEN, &code).
  Vec out;
  vpcd::encode_control(vpcd::Control::PowerOn, out);
  vpcd::encode_control(vpcd::Control::GetAtr, out);
  EXPECT_EQ(out, (Vec{0x00, 0x01, 0x01, 0x00, 0x01, 0x04}));
}
