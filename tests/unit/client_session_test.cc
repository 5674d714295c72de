// SPDX-License-Identifier: LGPL-2.1-or-later
// ClientSession: handshake, reader and card announcements, APDUs, Flush,
// Reconnect, restart, every host violation, driven by hand-written bytes
// (session_pair_test.cc drives it against HostSession).
#include "vscard/client_session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "session_test_util.h"

namespace vscard::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const ByteVec kAtr{0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B};
constexpr std::uint32_t kU = 0xFFFFFFFFu;
using State = ClientSession::ReaderState;

class Client {
 public:
  explicit Client(ClientSession::Options options = {})
      : session(options, [this](const ClientEvent& e) {
          log.lines.push_back(describe(e));
          if (on_event) on_event(e);
        }) {}
  ByteVec feed(const ByteVec& in) {
    session.receive(in);
    return take_output(session);
  }
  // Init exchanged with a QEMU-like host (capabilities 0) or a given one.
  void handshake(std::uint32_t host_caps = 0) {
    take_output(session);
    session.receive(wire(1, kU, init_payload(2, host_caps)));
    log.clear();
  }
  ClientSession session;
  EventLog log;
  std::function<void(const ClientEvent&)> on_event;
};

TEST(Client, QueuesInitAtConstruction) {
  Client c;
  EXPECT_EQ(take_output(c.session), wire(1, 0, init_payload(2, 1)));
  Client plain(ClientSession::Options{0, kDefaultMaxMessageSize});
  EXPECT_EQ(take_output(plain.session), wire(1, 0, init_payload(2, 0)));
}

TEST(Client, RecordsTheHostInit) {
  Client c;
  take_output(c.session);
  EXPECT_THAT(c.feed(qemu_init_reply()), IsEmpty());
  EXPECT_THAT(c.log.lines, ElementsAre("HostInit version=2 caps=0 mismatch=0"));
  EXPECT_TRUE(c.session.host_init_received());
  EXPECT_EQ(c.session.host_version(), 2u);
  EXPECT_FALSE(c.session.negotiated(kCapabilityReconnect));
  // A second Init is a violation, ignored.
  c.feed(qemu_init_reply());
  EXPECT_EQ(c.log.kinds().back(), "ProtocolViolation");
}

TEST(Client, VersionMismatchIsOnlyAWarning) {
  Client c;
  c.feed(wire(1, kU, init_payload(3, 1)));
  EXPECT_THAT(c.log.lines, ElementsAre("HostInit version=3 caps=1 mismatch=1"));
  EXPECT_FALSE(c.session.closed());
  EXPECT_TRUE(c.session.negotiated(kCapabilityReconnect));
}

TEST(Client, BadMagicOrShortInitCloses) {
  for (const ByteVec& bad : {wire(1, kU, cat({text_bytes("XSCD"), words({2, 0})})),
                             wire(1, kU, text_bytes("VSCD"))}) {
    Client c;
    c.feed(bad);
    EXPECT_TRUE(c.session.closed());
    EXPECT_THAT(c.log.lines, ElementsAre(HasSubstr("Closed the host's Init is malformed")));
    c.feed(qemu_init_reply());  // nothing more is read
    EXPECT_FALSE(c.session.host_init_received());
  }
}

TEST(Client, ReaderAddWaitsForHostInitThenGoesOneAtATime) {
  Client c;
  take_output(c.session);
  const ReaderHandle a = c.session.add_reader("A");
  const ReaderHandle b = c.session.add_reader("B");
  EXPECT_THAT(take_output(c.session), IsEmpty());
  EXPECT_EQ(c.feed(qemu_init_reply()), wire(3, kU, text_bytes("A")));
  EXPECT_EQ(c.session.reader(a)->state, State::Adding);
  EXPECT_EQ(c.session.reader(b)->state, State::Waiting);
  EXPECT_EQ(c.feed(error_msg(4, 0)), wire(3, kU, text_bytes("B")));
  EXPECT_EQ(c.feed(error_msg(5, 0)), ByteVec{});
  EXPECT_EQ(c.session.reader(a)->id, 4u);
  EXPECT_EQ(c.session.reader(b)->id, 5u);
  EXPECT_EQ(c.log.lines[1], "ReaderAccepted reader=0 id=4");
  EXPECT_EQ(c.log.lines[2], "ReaderAccepted reader=1 id=5");
}

TEST(Client, RefusedReaderIsRejectedAndOthersContinue) {
  Client c;
  c.handshake();
  const ReaderHandle a = c.session.add_reader("A");
  c.session.add_reader("B");
  take_output(c.session);
  EXPECT_EQ(c.feed(error_msg(kU, 2)), wire(3, kU, text_bytes("B")));
  EXPECT_EQ(c.session.reader(a)->state, State::Rejected);
  EXPECT_THAT(c.log.lines,
              ElementsAre("ReaderRejected reader=0 code=2 reason=the host refused the reader: "
                          "cannot add more readers"));
  EXPECT_FALSE(c.session.insert_card(a, kAtr));
  EXPECT_FALSE(c.session.remove_reader(a));
}

TEST(Client, DuplicateIdFromQemuRejectsTheSecondReader) {
  Client c;
  c.handshake();
  const ReaderHandle a = c.session.add_reader("A");
  const ReaderHandle b = c.session.add_reader("B");
  take_output(c.session);
  c.feed(error_msg(0, 0));
  // QEMU gives the second reader id 0 too; nothing is sent for it (a
  // ReaderRemove would detach the first reader).
  EXPECT_THAT(c.feed(error_msg(0, 0)), IsEmpty());
  EXPECT_EQ(c.session.reader(a)->state, State::Active);
  EXPECT_EQ(c.session.reader(b)->state, State::Rejected);
  EXPECT_THAT(c.log.lines.back(), HasSubstr("already used by another reader"));
}

TEST(Client, CardBeforeAcceptanceIsAnnouncedAfterIt) {
  Client c;
  c.handshake();
  const ReaderHandle r = c.session.add_reader("R");
  ASSERT_TRUE(c.session.insert_card(r, kAtr));
  EXPECT_FALSE(c.session.insert_card(r, kAtr));  // already has a card
  EXPECT_EQ(take_output(c.session), wire(3, kU, text_bytes("R")));
  EXPECT_EQ(c.feed(error_msg(2, 0)), wire(5, 2, kAtr));
  EXPECT_THAT(c.feed(error_msg(2, 0)), IsEmpty());  // ATR accepted
  EXPECT_TRUE(c.session.reader(r)->card_present);
}

TEST(Client, RefusedAtrClearsTheCard) {
  Client c;
  c.handshake();
  const ReaderHandle r = c.session.add_reader("R");
  c.feed(error_msg(0, 0));
  ASSERT_TRUE(c.session.insert_card(r, kAtr));
  EXPECT_EQ(take_output(c.session), wire(5, 0, kAtr));
  c.feed(error_msg(0, 1));
  EXPECT_EQ(c.log.lines.back(), "AtrRejected reader=0 code=1");
  EXPECT_FALSE(c.session.reader(r)->card_present);
  EXPECT_FALSE(c.session.remove_card(r));
  EXPECT_TRUE(c.session.insert_card(r, kAtr));
}

TEST(Client, AtrTooLargeForAMessageIsRefused) {
  Client c(ClientSession::Options{kCapabilityReconnect, 64});
  const ReaderHandle r = c.session.add_reader("R");
  EXPECT_FALSE(c.session.insert_card(r, ByteVec(64 - 12 + 1, 0x3B)));
  EXPECT_TRUE(c.session.insert_card(r, ByteVec(64 - 12, 0x3B)));
}

class ActiveClient : public ::testing::Test {
 protected:
  void SetUp() override {
    c.handshake();
    r = c.session.add_reader("R");
    c.session.insert_card(r, kAtr);
    take_output(c.session);
    c.feed(error_msg(0, 0));  // ReaderAdd -> id 0, ATR goes out
    c.feed(error_msg(0, 0));  // ATR accepted
    c.log.clear();
  }
  Client c;
  ReaderHandle r = 0;
  const ByteVec apdu{0x00, 0xA4, 0x04, 0x00, 0x00};
};

TEST_F(ActiveClient, ApduRoundTrip) {
  EXPECT_FALSE(c.session.send_apdu_response(r, ByteVec{0x90, 0x00}));  // nothing owed
  EXPECT_THAT(c.feed(wire(7, 0, apdu)), IsEmpty());
  EXPECT_THAT(c.log.lines, ElementsAre("ApduReceived reader=0 apdu=00A4040000"));
  EXPECT_EQ(c.session.reader(r)->outstanding_apdus, 1u);
  ASSERT_TRUE(c.session.send_apdu_response(r, ByteVec{0x90, 0x00}));
  EXPECT_EQ(take_output(c.session), wire(7, 0, ByteVec{0x90, 0x00}));
  c.feed(wire(7, 0, apdu));
  ASSERT_TRUE(c.session.send_error(r, ErrorCode::General));
  EXPECT_EQ(take_output(c.session), error_msg(0, 1));
  EXPECT_FALSE(c.session.send_error(r, ErrorCode::General));
}

TEST_F(ActiveClient, HandlerMayAnswerFromInsideTheEvent) {
  c.on_event = [&](const ClientEvent& e) {
    if (std::holds_alternative<client_event::ApduReceived>(e)) {
      c.session.send_apdu_response(r, ByteVec{0x90, 0x00});
    }
  };
  EXPECT_EQ(c.feed(cat({wire(7, 0, apdu), wire(7, 0, apdu)})),
            cat({wire(7, 0, ByteVec{0x90, 0x00}), wire(7, 0, ByteVec{0x90, 0x00})}));
}

TEST_F(ActiveClient, ApduForUnknownReaderIsAnsweredWithGeneralError) {
  EXPECT_EQ(c.feed(wire(7, 3, apdu)), error_msg(3, 1));
  EXPECT_THAT(c.log.lines, ElementsAre(HasSubstr("ProtocolViolation APDU for reader id 3")));
}

TEST_F(ActiveClient, ApduWithoutCardIsAnsweredWithGeneralError) {
  c.session.remove_card(r);
  EXPECT_EQ(take_output(c.session), wire(6, 0));
  EXPECT_EQ(c.feed(wire(7, 0, apdu)), error_msg(0, 1));
  EXPECT_EQ(c.log.kinds(), std::vector<std::string>{"ProtocolViolation"});
}

TEST_F(ActiveClient, FlushWaitsForEveryEarlierApdu) {
  EXPECT_EQ(c.feed(wire(8, 0)), wire(9, 0));  // nothing owed: at once
  c.feed(wire(7, 0, apdu));
  EXPECT_THAT(c.feed(wire(8, 0)), IsEmpty());
  c.session.send_apdu_response(r, ByteVec{0x90, 0x00});
  EXPECT_EQ(take_output(c.session), cat({wire(7, 0, ByteVec{0x90, 0x00}), wire(9, 0)}));
}

TEST_F(ActiveClient, RemovedCardStillOwesItsApdu) {
  c.feed(wire(7, 0, apdu));
  c.feed(wire(8, 0));
  ASSERT_TRUE(c.session.remove_card(r));
  EXPECT_EQ(take_output(c.session), wire(6, 0));
  ASSERT_TRUE(c.session.send_error(r, ErrorCode::General));
  EXPECT_EQ(take_output(c.session), cat({error_msg(0, 1), wire(9, 0)}));
}

TEST_F(ActiveClient, RemoveReaderSendsCardRemoveThenReaderRemoveAndReleasesFlush) {
  c.feed(wire(7, 0, apdu));
  c.feed(wire(8, 0));
  ASSERT_TRUE(c.session.remove_reader(r));
  EXPECT_EQ(take_output(c.session), cat({wire(6, 0), wire(4, 0), wire(9, 0)}));
  EXPECT_EQ(c.session.reader(r)->state, State::Removed);
  EXPECT_FALSE(c.session.send_apdu_response(r, ByteVec{0x90, 0x00}));
  EXPECT_FALSE(c.session.remove_reader(r));
  // Both removals acknowledged; a failure code is reported.
  c.feed(error_msg(0, 0));
  c.feed(error_msg(0, 1));
  EXPECT_EQ(c.log.lines.back(), "HostError id=0 code=1");
}

TEST_F(ActiveClient, UnmatchedErrorIsAHostError) {
  c.feed(error_msg(0, 1));
  EXPECT_THAT(c.log.lines, ElementsAre("HostError id=0 code=1"));
}

TEST_F(ActiveClient, MalformedErrorCountsAsFailureOfWhatItAnswers) {
  c.session.remove_card(r);
  take_output(c.session);
  c.feed(wire(2, 0, ByteVec{0}));
  EXPECT_EQ(c.log.kinds(), (std::vector<std::string>{"ProtocolViolation", "HostError"}));
}

TEST_F(ActiveClient, HostOnlyTypesAreViolationsWithoutReply) {
  for (std::uint32_t type : {3u, 4u, 5u, 6u, 9u, 77u}) {
    EXPECT_THAT(c.feed(wire(type, 0)), IsEmpty()) << type;
  }
  EXPECT_EQ(c.log.lines.size(), 6u);
  EXPECT_THAT(c.log.lines.back(), HasSubstr("unexpected message type 77"));
  EXPECT_FALSE(c.session.closed());
}

TEST_F(ActiveClient, ReconnectWithoutNegotiationIsAViolation) {
  ByteVec payload(256, 0);
  payload[0] = 'h';
  payload[128] = '1';
  EXPECT_THAT(c.feed(wire(10, kU, payload)), IsEmpty());  // QEMU-like host: caps 0
  EXPECT_EQ(c.log.kinds(), std::vector<std::string>{"ProtocolViolation"});
}

TEST(Client, ReconnectWhenBothAdvertiseIt) {
  Client c;
  c.handshake(kCapabilityReconnect);
  ByteVec payload(256, 0);
  std::copy_n("::1", 3, payload.begin());
  std::copy_n("2002", 4, payload.begin() + 128);
  c.feed(wire(10, kU, payload));
  EXPECT_THAT(c.log.lines, ElementsAre("ReconnectRequested ::1:2002"));
  c.feed(wire(10, kU, ByteVec(12, 0)));  // malformed
  EXPECT_EQ(c.log.kinds().back(), "ProtocolViolation");
  // Our own Options can refuse it too.
  Client off(ClientSession::Options{0, kDefaultMaxMessageSize});
  off.handshake(kCapabilityReconnect);
  off.feed(wire(10, kU, payload));
  EXPECT_EQ(off.log.kinds(), std::vector<std::string>{"ProtocolViolation"});
}

TEST(Client, OversizedMessageCloses) {
  Client c;
  ByteVec header = wire(7, 0);
  header[8] = 0x01;  // 16 MiB
  c.feed(header);
  EXPECT_TRUE(c.session.closed());
  EXPECT_THAT(c.log.lines, ElementsAre(HasSubstr("Closed undecodable input")));
}

TEST(Client, RestartReannouncesReadersAndCards) {
  Client c;
  c.handshake();
  const ReaderHandle a = c.session.add_reader("A");
  const ReaderHandle b = c.session.add_reader("B");
  const ReaderHandle gone = c.session.add_reader("C");
  c.session.insert_card(a, kAtr);
  c.feed(error_msg(0, 0));  // A -> 0, ATR out
  c.session.remove_reader(gone);
  c.feed(wire(7, 0, ByteVec{0, 0xB0, 0, 0}));
  c.session.restart();
  EXPECT_EQ(take_output(c.session), wire(1, 0, init_payload(2, 1)));
  EXPECT_EQ(c.session.reader(a)->state, State::Waiting);
  EXPECT_EQ(c.session.reader(a)->outstanding_apdus, 0u);
  EXPECT_EQ(c.session.reader(gone)->state, State::Removed);
  EXPECT_EQ(c.feed(qemu_init_reply()), wire(3, kU, text_bytes("A")));
  EXPECT_EQ(c.feed(error_msg(3, 0)), cat({wire(5, 3, kAtr), wire(3, kU, text_bytes("B"))}));
  c.feed(error_msg(3, 0));  // ATR accepted
  c.feed(error_msg(4, 0));
  EXPECT_EQ(c.session.reader(b)->id, 4u);
  EXPECT_FALSE(c.session.closed());
}

TEST(Client, RestartFromInsideAnEventStopsReadingOldInput) {
  Client c;
  c.on_event = [&](const ClientEvent& e) {
    if (std::holds_alternative<client_event::HostInit>(e)) c.session.restart();
  };
  take_output(c.session);
  c.session.receive(cat({qemu_init_reply(), qemu_init_reply()}));
  EXPECT_EQ(c.log.kinds(), std::vector<std::string>{"HostInit"});
  EXPECT_FALSE(c.session.host_init_received());
}

TEST(Client, RemoveReaderWhileItsAddIsOutstanding) {
  Client c;
  c.handshake();
  const ReaderHandle r = c.session.add_reader("R");
  take_output(c.session);
  ASSERT_TRUE(c.session.remove_reader(r));
  EXPECT_EQ(c.feed(error_msg(0, 0)), wire(4, 0));
  EXPECT_EQ(c.session.reader(r)->state, State::Removed);
  EXPECT_THAT(c.log.lines, IsEmpty());
}

}  // namespace
}  // namespace vscard::test
