// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient/vicc_card: the reader side of one vpcd connection (vpcd.c, ifd-vpcd.c).
#include "vicc_card.h"

#include <gtest/gtest.h>

#include <vector>

#include "vscard/vpcd_frame.h"

using vscclient::ViccCard;
using Vec = std::vector<std::uint8_t>;
using Kind = ViccCard::Event::Kind;
using State = ViccCard::State;

namespace {

Vec frame(const Vec& data) {
  Vec out(data.size() + 2);
  out[0] = static_cast<std::uint8_t>(data.size() >> 8);
  out[1] = static_cast<std::uint8_t>(data.size());
  std::copy(data.begin(), data.end(), out.begin() + 2);
  return out;
}

const Vec kAtr{0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B};  // vicc iso7816

Vec take_output(ViccCard& card) {
  Vec out(card.pending_output().begin(), card.pending_output().end());
  card.consume_output(out.size());
  return out;
}

ViccCard ready_card(std::size_t max_response = vscard::vpcd::kMaxFrameData) {
  ViccCard card(max_response);
  card.start();
  take_output(card);
  auto events = card.receive(frame(kAtr));
  EXPECT_EQ(events.size(), 1u);
  return card;
}

}  // namespace

TEST(ViccCard, StartPowersOnThenAsksForTheAtr) {
  // ifd-vpcd.c IFDHPowerICC: vicc_poweron, then vicc_getatr.
  ViccCard card;
  EXPECT_EQ(card.state(), State::Idle);
  card.start();
  EXPECT_EQ(card.state(), State::PoweringUp);
  EXPECT_TRUE(card.awaiting_answer());
  EXPECT_EQ(take_output(card), (Vec{0x00, 0x01, 0x01, 0x00, 0x01, 0x04}));
}

TEST(ViccCard, AtrMakesTheCardPresentEvenSplitByteByByte) {
  ViccCard card;
  card.start();
  Vec bytes = frame(kAtr);
  std::vector<ViccCard::Event> events;
  for (std::uint8_t b : bytes) {
    for (auto& e : card.receive(Vec{b})) events.push_back(std::move(e));
  }
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Inserted);
  EXPECT_EQ(events[0].bytes, kAtr);
  EXPECT_EQ(card.state(), State::Ready);
  EXPECT_FALSE(card.awaiting_answer());
  EXPECT_EQ(card.atr(), kAtr);
}

TEST(ViccCard, CommandGoesOutFramedAndItsResponseComesBack) {
  ViccCard card = ready_card();
  Vec select{0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00};
  std::string error;
  ASSERT_TRUE(card.send_command(select, &error)) << error;
  EXPECT_EQ(card.state(), State::Busy);
  EXPECT_TRUE(card.awaiting_answer());
  EXPECT_EQ(take_output(card), frame(select));
  auto events = card.receive(frame({0x90, 0x00}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Response);
  EXPECT_EQ(events[0].bytes, (Vec{0x90, 0x00}));
  EXPECT_EQ(card.state(), State::Ready);
}

TEST(ViccCard, OneCommandAtATime) {
  ViccCard card = ready_card();
  std::string error;
  ASSERT_TRUE(card.send_command(Vec{0x00, 0x84, 0x00, 0x00, 0x08}, &error));
  EXPECT_FALSE(card.send_command(Vec{0x00, 0x84, 0x00, 0x00, 0x08}, &error));
  EXPECT_NE(error.find("busy"), std::string::npos) << error;
}

TEST(ViccCard, CommandsBeforeTheAtrAreRefused) {
  ViccCard card;
  card.start();
  std::string error;
  EXPECT_FALSE(card.send_command(Vec{0x00, 0xA4, 0x00, 0x00}, &error));
  EXPECT_EQ(card.state(), State::PoweringUp);
}

TEST(ViccCard, UnframableCommandsAreRefusedAndTheCardStays) {
  ViccCard card = ready_card();
  std::string error;
  EXPECT_FALSE(card.send_command(Vec{0xA4}, &error));  // would read as a control code
  EXPECT_NE(error.find("control"), std::string::npos) << error;
  EXPECT_FALSE(card.send_command(Vec{}, &error));
  EXPECT_EQ(card.state(), State::Ready);
  EXPECT_TRUE(card.pending_output().empty());
}

TEST(ViccCard, EmptyFrameFailsTheCard) {
  // vpcd.c vicc_transmit: 0 bytes back is a failure and vpcd ejects the card.
  ViccCard card = ready_card();
  std::string error;
  ASSERT_TRUE(card.send_command(Vec{0x00, 0xB0, 0x00, 0x00, 0x04}, &error));
  auto events = card.receive(Vec{0x00, 0x00});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Failed);
  EXPECT_NE(events[0].reason.find("empty"), std::string::npos);
  EXPECT_EQ(card.state(), State::Failed);
}

TEST(ViccCard, TwoAnswersToOneCommandFailTheCardAfterTheFirst) {
  ViccCard card = ready_card();
  std::string error;
  ASSERT_TRUE(card.send_command(Vec{0x00, 0x84, 0x00, 0x00, 0x08}, &error));
  Vec bytes = frame({0x90, 0x00});
  Vec second = frame({0x6A, 0x82});
  bytes.insert(bytes.end(), second.begin(), second.end());
  auto events = card.receive(bytes);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::Response);
  EXPECT_EQ(events[1].kind, Kind::Failed);
  EXPECT_NE(events[1].reason.find("nobody asked for"), std::string::npos);
  // Nothing more is decoded from a failed card.
  EXPECT_TRUE(card.receive(frame({0x90, 0x00})).empty());
}

TEST(ViccCard, FrameBeforeAnyRequestFailsTheCard) {
  ViccCard card = ready_card();
  auto events = card.receive(frame({0x90, 0x00}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Failed);
}

TEST(ViccCard, LengthOverTheLimitFailsFromTheLengthAlone) {
  ViccCard card = ready_card(258);
  std::string error;
  ASSERT_TRUE(card.send_command(Vec{0x00, 0xB0, 0x00, 0x00, 0x00}, &error));
  auto events = card.receive(Vec{0xFF, 0xFF});  // 0xFFFF announced, no data
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Failed);
  EXPECT_NE(events[0].reason.find("65535"), std::string::npos) << events[0].reason;
}

TEST(ViccCard, MaximalLengthWithNoDataWaitsThenClosingSaysMidFrame) {
  // 0xFFFF is within the format's own limit: the card waits for the data; a
  // card that then closes is reported as closing mid-frame.
  ViccCard card = ready_card();
  std::string error;
  ASSERT_TRUE(card.send_command(Vec{0x00, 0xB0, 0x00, 0x00, 0x00}, &error));
  EXPECT_TRUE(card.receive(Vec{0xFF, 0xFF, 0x01, 0x02, 0x03}).empty());
  EXPECT_EQ(card.closed_reason(), "closed the connection in the middle of a frame (3 of 65535 bytes)");
}

TEST(ViccCard, OverlongAtrFailsTheCard) {
  ViccCard card;
  card.start();
  auto events = card.receive(frame(Vec(34, 0x3B)));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Failed);
  EXPECT_NE(events[0].reason.find("33"), std::string::npos);
}

TEST(ViccCard, TimeoutSaysWhatWasAwaited) {
  ViccCard powering;
  powering.start();
  EXPECT_EQ(powering.timed_out("2.0 s"), "sent no ATR within 2.0 s");
  EXPECT_EQ(powering.state(), State::Failed);
  ViccCard busy = ready_card();
  std::string error;
  ASSERT_TRUE(busy.send_command(Vec{0x00, 0x84, 0x00, 0x00, 0x08}, &error));
  EXPECT_EQ(busy.timed_out("2.0 s"), "sent no response within 2.0 s");
}

TEST(ViccCard, ClosedReasonOfAQuietCard) {
  ViccCard card = ready_card();
  EXPECT_EQ(card.closed_reason(), "closed the connection");
  card.receive(Vec{0x00});
  EXPECT_EQ(card.closed_reason(), "closed the connection in the middle of a frame's length");
}

TEST(ViccCard, PowerEventsAreVpcdControlFrames) {
  // ifd-vpcd.c IFDHPowerICC: IFD_POWER_DOWN -> vicc_poweroff (frame 0, no
  // answer); IFD_POWER_UP / IFD_RESET -> vicc_poweron / vicc_reset, then
  // vicc_getatr (frame 4) whose answer is the ATR.
  ViccCard card = ready_card();
  std::string error;
  ASSERT_TRUE(card.power(vscard::vpcd::Control::PowerOff, &error)) << error;
  EXPECT_EQ(take_output(card), (Vec{0x00, 0x01, 0x00}));
  EXPECT_EQ(card.state(), State::Ready);
  ASSERT_TRUE(card.power(vscard::vpcd::Control::PowerOn, &error)) << error;
  EXPECT_EQ(take_output(card), (Vec{0x00, 0x01, 0x01, 0x00, 0x01, 0x04}));
  EXPECT_EQ(card.state(), State::Resetting);
  EXPECT_TRUE(card.awaiting_answer());
  auto events = card.receive(frame(kAtr));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Reset);
  EXPECT_EQ(events[0].bytes, kAtr);
  ASSERT_TRUE(card.power(vscard::vpcd::Control::Reset, &error)) << error;
  EXPECT_EQ(take_output(card), (Vec{0x00, 0x01, 0x02, 0x00, 0x01, 0x04}));
  events = card.receive(frame(kAtr));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Reset);
  EXPECT_EQ(card.state(), State::Ready);
}

TEST(ViccCard, PowerEventRefusedUnlessReady) {
  ViccCard card = ready_card();
  std::string error;
  ASSERT_TRUE(card.send_command(Vec{0x00, 0x84, 0x00, 0x00, 0x08}, &error));
  take_output(card);
  EXPECT_FALSE(card.power(vscard::vpcd::Control::Reset, &error));
  EXPECT_NE(error.find("busy"), std::string::npos) << error;
  EXPECT_TRUE(take_output(card).empty());
  EXPECT_FALSE(card.power(vscard::vpcd::Control::GetAtr, &error));
  // A reset whose ATR never comes times out like a command.
  card.receive(frame(Vec{0x90, 0x00}));
  ASSERT_TRUE(card.power(vscard::vpcd::Control::Reset, &error));
  EXPECT_EQ(card.timed_out("30 s"), "sent no ATR within 30 s");
  EXPECT_EQ(card.state(), State::Failed);
}
