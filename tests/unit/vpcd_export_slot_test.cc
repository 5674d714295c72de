// SPDX-License-Identifier: LGPL-2.1-or-later
// vschost/vpcd_export_slot: the card side of a vpcd slot (rules from vsmartcard's
// vpcd.c / ifd-vpcd.c and vicc's VirtualSmartcard.py, see the header).
#include "vpcd_export_slot.h"

#include <gtest/gtest.h>

#include <vector>

namespace vpcd = vschost::vpcd;
using Vec = std::vector<std::uint8_t>;

namespace {

const Vec kAtr{0x3B, 0x8A, 0x80, 0x01, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x03, 0x00, 0xEF,
               0x12, 0x0F, 0xFF, 0x82, 0x90, 0x00, 0x74};  // a CAC-like ATR, 20 bytes
const Vec kSelect{0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00};

Vec frame(const Vec& data) {
  Vec out;
  EXPECT_EQ(vpcd::encode_frame(data, out), vpcd::EncodeError::None);
  return out;
}

Vec control(vpcd::Control c) {
  Vec out;
  vpcd::encode_control(c, out);
  return out;
}

Vec drain(vpcd::ExportSlot& slot) {
  Vec out(slot.pending_output().begin(), slot.pending_output().end());
  slot.consume_output(out.size());
  return out;
}

vpcd::ExportSlot connected_with_card() {
  vpcd::ExportSlot slot;
  slot.insert_card(kAtr);
  slot.connected();
  return slot;
}

}  // namespace

TEST(VpcdExportSlot, WantsConnectionExactlyWhileACardIsPresent) {
  // vpcd: a connected card program is an inserted card (ifd-vpcd.c IFDHICCPresence).
  vpcd::ExportSlot slot;
  EXPECT_FALSE(slot.wants_connection());
  slot.insert_card(kAtr);
  EXPECT_TRUE(slot.wants_connection());
  slot.connected();
  EXPECT_TRUE(slot.wants_connection());
  EXPECT_FALSE(slot.close_requested());
  slot.remove_card();
  EXPECT_FALSE(slot.wants_connection());
  EXPECT_TRUE(slot.close_requested());
  EXPECT_EQ(slot.close_reason(), "the card was removed");
  slot.disconnected();
  EXPECT_FALSE(slot.close_requested());
  EXPECT_FALSE(slot.wants_connection());
}

TEST(VpcdExportSlot, GetAtrIsAnsweredFromTheCachedAtr) {
  auto slot = connected_with_card();
  for (int i = 0; i < 3; ++i) slot.receive(control(vpcd::Control::GetAtr));
  Vec expected;
  for (int i = 0; i < 3; ++i) {
    Vec f = frame(kAtr);
    expected.insert(expected.end(), f.begin(), f.end());
  }
  EXPECT_EQ(drain(slot), expected);
  EXPECT_EQ(slot.stats().atr_polls, 3u);
  EXPECT_FALSE(slot.take_command());
}

TEST(VpcdExportSlot, PowerFramesGetNoAnswer) {
  // ifd-vpcd.c IFDHPowerICC: vicc_poweron/off/reset only send (sendToVICC).
  auto slot = connected_with_card();
  slot.receive(control(vpcd::Control::PowerOn));
  slot.receive(control(vpcd::Control::Reset));
  slot.receive(control(vpcd::Control::PowerOff));
  EXPECT_TRUE(slot.pending_output().empty());
  EXPECT_EQ(slot.stats().power_events, 3u);
  EXPECT_EQ(slot.take_power_events(),
            (std::vector<vpcd::Control>{vpcd::Control::PowerOn, vpcd::Control::Reset,
                                        vpcd::Control::PowerOff}));
  EXPECT_TRUE(slot.take_power_events().empty());
  EXPECT_FALSE(slot.close_requested());
}

TEST(VpcdExportSlot, UnknownControlAndEmptyFramesAreIgnored) {
  auto slot = connected_with_card();
  slot.receive(Vec{0x00, 0x01, 0x07, 0x00, 0x00});
  EXPECT_TRUE(slot.pending_output().empty());
  EXPECT_FALSE(slot.close_requested());
  EXPECT_FALSE(slot.take_command());
}

TEST(VpcdExportSlot, ApduGoesToTheClientAndTheResponseBack) {
  auto slot = connected_with_card();
  slot.receive(frame(kSelect));
  auto command = slot.take_command();
  ASSERT_TRUE(command);
  EXPECT_EQ(*command, kSelect);
  EXPECT_FALSE(slot.take_command());  // handed out once
  EXPECT_TRUE(slot.command_outstanding());
  slot.answer(Vec{0x90, 0x00});
  EXPECT_FALSE(slot.command_outstanding());
  EXPECT_EQ(drain(slot), (Vec{0x00, 0x02, 0x90, 0x00}));
  EXPECT_EQ(slot.stats().apdus, 1u);
  EXPECT_EQ(slot.stats().responses, 1u);
}

TEST(VpcdExportSlot, FramesSplitAtAnyByteAreReassembled) {
  auto slot = connected_with_card();
  Vec bytes = frame(kSelect);
  for (std::uint8_t b : bytes) slot.receive(Vec{b});
  auto command = slot.take_command();
  ASSERT_TRUE(command);
  EXPECT_EQ(*command, kSelect);
}

TEST(VpcdExportSlot, LargeResponsesUpToTheFrameLimitPass) {
  auto slot = connected_with_card();
  slot.receive(frame(Vec{0x00, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x00}));
  ASSERT_TRUE(slot.take_command());
  Vec response(vpcd::kMaxFrameData, 0x41);
  slot.answer(response);
  EXPECT_EQ(slot.pending_output().size(), vpcd::kMaxFrameData + 2);
  EXPECT_FALSE(slot.close_requested());
}

TEST(VpcdExportSlot, ResponseTooLongForAFrameClosesInsteadOfTruncating) {
  auto slot = connected_with_card();
  slot.receive(frame(kSelect));
  ASSERT_TRUE(slot.take_command());
  slot.answer(Vec(vpcd::kMaxFrameData + 1, 0x41));
  EXPECT_TRUE(slot.pending_output().empty());
  EXPECT_TRUE(slot.close_requested());
}

TEST(VpcdExportSlot, ClientErrorClosesTheConnectionAndTheCardComesBack) {
  // No invented status word: vpcd sees the card go, then come back (same card).
  auto slot = connected_with_card();
  slot.receive(frame(kSelect));
  ASSERT_TRUE(slot.take_command());
  slot.answer(std::nullopt, 1u);
  EXPECT_TRUE(slot.pending_output().empty());
  EXPECT_TRUE(slot.close_requested());
  EXPECT_EQ(slot.close_reason(), "the client answered the APDU with VSCard Error 1");
  EXPECT_FALSE(slot.wants_connection());
  slot.disconnected();
  EXPECT_TRUE(slot.wants_connection());
}

TEST(VpcdExportSlot, NoAnswerOrEmptyAnswerCloses) {
  for (bool empty : {false, true}) {
    auto slot = connected_with_card();
    slot.receive(frame(kSelect));
    ASSERT_TRUE(slot.take_command());
    slot.answer(empty ? std::optional<Vec>(Vec{}) : std::nullopt);
    EXPECT_TRUE(slot.close_requested());
    EXPECT_TRUE(slot.pending_output().empty());
  }
}

TEST(VpcdExportSlot, SecondFrameBeforeTheAnswerIsAProtocolFault) {
  auto slot = connected_with_card();
  Vec bytes = frame(kSelect);
  Vec atr = control(vpcd::Control::GetAtr);
  bytes.insert(bytes.end(), atr.begin(), atr.end());
  slot.receive(bytes);
  EXPECT_TRUE(slot.close_requested());
  EXPECT_TRUE(slot.pending_output().empty());
  EXPECT_EQ(slot.close_reason(), "vpcd sent a frame before the answer to its APDU");
}

TEST(VpcdExportSlot, RemovalDuringAnApduDropsTheLateAnswer) {
  auto slot = connected_with_card();
  slot.receive(frame(kSelect));
  ASSERT_TRUE(slot.take_command());
  slot.remove_card();
  EXPECT_TRUE(slot.close_requested());
  slot.disconnected();
  slot.answer(Vec{0x90, 0x00});  // arrives after the connection went
  EXPECT_TRUE(slot.pending_output().empty());
}

TEST(VpcdExportSlot, AnswerForAnOldConnectionIsNotSentOnANewOne) {
  auto slot = connected_with_card();
  slot.receive(frame(kSelect));
  ASSERT_TRUE(slot.take_command());
  slot.disconnected();  // pcscd restarted
  slot.connected();
  slot.answer(Vec{0x90, 0x00});
  EXPECT_TRUE(slot.pending_output().empty());
  EXPECT_FALSE(slot.close_requested());
}

TEST(VpcdExportSlot, NewAtrWhileConnectedIsACardSwap) {
  auto slot = connected_with_card();
  slot.insert_card(kAtr);  // the same card again: nothing to do
  EXPECT_FALSE(slot.close_requested());
  Vec other{0x3B, 0x80, 0x80, 0x01, 0x01};
  slot.insert_card(other);
  EXPECT_TRUE(slot.close_requested());
  slot.disconnected();
  EXPECT_TRUE(slot.wants_connection());
  slot.connected();
  slot.receive(control(vpcd::Control::GetAtr));
  EXPECT_EQ(drain(slot), frame(other));
}

TEST(VpcdExportSlot, ConnectedAfterTheCardWentClosesAtOnce) {
  vpcd::ExportSlot slot;
  slot.insert_card(kAtr);
  slot.remove_card();
  slot.connected();  // the connect finished after the removal
  EXPECT_TRUE(slot.close_requested());
  slot.receive(control(vpcd::Control::GetAtr));
  EXPECT_TRUE(slot.pending_output().empty());
}

TEST(VpcdExportSlot, PartialOutputIsConsumedInPieces) {
  auto slot = connected_with_card();
  slot.receive(control(vpcd::Control::GetAtr));
  Vec all(slot.pending_output().begin(), slot.pending_output().end());
  slot.consume_output(5);
  EXPECT_EQ(Vec(slot.pending_output().begin(), slot.pending_output().end()),
            Vec(all.begin() + 5, all.end()));
  slot.consume_output(1000);
  EXPECT_TRUE(slot.pending_output().empty());
}
