// SPDX-License-Identifier: LGPL-2.1-or-later
// HostSession: QEMU-policy replies byte for byte as measured from QEMU 7.2
// (libvscard/src/session/qemu_policy.h), the Multi policy's rules, the
// commands, and every client violation.
#include "vscard/host_session.h"

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

class Host {
 public:
  explicit Host(HostPolicy policy)
      : session(policy, [this](const HostEvent& e) { log.lines.push_back(describe(e)); }) {}
  // Feeds `in`, returns what the session answered.
  ByteVec feed(const ByteVec& in) {
    session.receive(in);
    return take_output(session);
  }
  HostSession session;
  EventLog log;
};

ByteVec success(std::uint32_t id) { return error_msg(id, 0); }
ByteVec general(std::uint32_t id) { return error_msg(id, 1); }

// --- QEMU policy: each case is one row of the measurements in qemu_policy.h ---

TEST(HostQemu, SendsNothingBeforeTheClientSpeaks) {
  Host h(HostPolicy::qemu());
  EXPECT_THAT(take_output(h.session), IsEmpty());
}

TEST(HostQemu, AnswersEveryInitWithItsOwn) {
  Host h(HostPolicy::qemu());
  EXPECT_EQ(h.feed(wire(1, 0, init_payload(2, 0))), qemu_init_reply());
  EXPECT_THAT(h.log.lines, ElementsAre("ClientInit version=2 caps=0 magic_ok=1 mismatch=0"));
  EXPECT_TRUE(h.session.client_init_received());
  // Repeated Init, wrong version, two capability words: answered the same.
  EXPECT_EQ(h.feed(wire(1, 5, init_payload(3, 0))), qemu_init_reply());
  EXPECT_EQ(h.feed(wire(1, 0, cat({text_bytes("VSCD"), words({2, 1, 7})}))), qemu_init_reply());
  EXPECT_EQ(h.log.kinds().front(), "ClientInit");
  EXPECT_TRUE(h.log.has_kind("ProtocolViolation"));
}

TEST(HostQemu, AnswersMalformedInits) {
  for (const ByteVec& bad : {wire(1, 0, cat({text_bytes("XXXX"), words({2, 0})})),  // magic
                             wire(1, 0, cat({text_bytes("VSCD"), words({2})})),      // 8 bytes
                             wire(1, 0, {}),                                         // 0 bytes
                             wire(1, 0, text_bytes("VSCD")),                         // 4 bytes
                             wire(1, 0, cat({init_payload(), ByteVec{'x'}}))}) {     // 13 bytes
    Host h(HostPolicy::qemu());
    EXPECT_EQ(h.feed(bad), qemu_init_reply());
    EXPECT_FALSE(h.session.closed());
    EXPECT_TRUE(h.log.has_kind("ProtocolViolation"));
  }
  Host h(HostPolicy::qemu());
  h.feed(wire(1, 0, cat({text_bytes("XXXX"), words({2, 0})})));
  EXPECT_TRUE(h.log.has_kind("ClientInit"));
  EXPECT_THAT(h.log.lines.back(), HasSubstr("magic_ok=0"));
}

TEST(HostQemu, EveryReaderAddGetsIdZero) {
  Host h(HostPolicy::qemu());
  // Before Init, with a name, again, with reader_id 7: all [2 0 4: 0].
  EXPECT_EQ(h.feed(wire(3, 0)), success(0));
  EXPECT_EQ(h.feed(wire(3, 0, text_bytes("name"))), success(0));
  EXPECT_EQ(h.feed(wire(3, 7)), success(0));
  EXPECT_EQ(h.session.readers().size(), 1u);
  EXPECT_EQ(h.log.lines.front(), "ReaderAdded id=0 name=");
  // A name that is not UTF-8 changes nothing for QEMU.
  EXPECT_EQ(h.feed(wire(3, 0, ByteVec{0xFF, 0xFE})), success(0));
}

TEST(HostQemu, AtrAnswersFollowCheckAtrAndTheFortyByteCap) {
  Host h(HostPolicy::qemu());
  h.feed(cat({wire(1, 0, init_payload()), wire(3, 0)}));
  EXPECT_EQ(h.feed(wire(5, 0, kAtr)), success(0));
  EXPECT_EQ(h.feed(wire(5, 3, kAtr)), success(3));  // reader_id echoed
  ByteVec bad_ts = kAtr;
  bad_ts[0] = 0x3A;
  EXPECT_EQ(h.feed(wire(5, 0, bad_ts)), general(0));
  EXPECT_EQ(h.feed(wire(5, 0, ByteVec{0x3B})), general(0));
  EXPECT_EQ(h.feed(wire(5, 0, {})), general(0));
  ByteVec over(41, 0);
  over[0] = 0x3B;
  over[1] = 0x0F;
  EXPECT_EQ(h.feed(wire(5, 0, over)), general(0));
  ByteVec forty(40, 0);
  forty[0] = 0x3B;  // "3B 00" + 38 bytes: too long, but QEMU lets it through
  EXPECT_EQ(h.feed(wire(5, 0, forty)), success(0));
  EXPECT_EQ(h.feed(wire(5, 0, ByteVec{0x3B, 0x05, 1, 2})), general(0));
  ASSERT_NE(h.session.reader(0), nullptr);
  EXPECT_TRUE(h.session.reader(0)->card_present);
  EXPECT_EQ(h.session.reader(0)->atr, forty);
}

TEST(HostQemu, AtrBeforeReaderAddIsAccepted) {
  Host h(HostPolicy::qemu());
  EXPECT_EQ(h.feed(wire(5, 0, kAtr)), success(0));
  EXPECT_TRUE(h.log.has_kind("ProtocolViolation"));
  EXPECT_TRUE(h.session.reader(0)->card_present);
}

TEST(HostQemu, RemovalsAlwaysSucceedWithTheClientsId) {
  Host h(HostPolicy::qemu());
  EXPECT_EQ(h.feed(wire(6, 0)), success(0));
  EXPECT_EQ(h.feed(wire(6, 9)), success(9));
  EXPECT_EQ(h.feed(wire(4, 0)), success(0));
  EXPECT_EQ(h.feed(wire(4, 6)), success(6));
  h.feed(cat({wire(3, 0), wire(5, 0, kAtr)}));
  h.log.clear();
  EXPECT_EQ(h.feed(wire(6, 0)), success(0));
  EXPECT_EQ(h.feed(wire(4, 0)), success(0));
  EXPECT_THAT(h.log.lines, ElementsAre("CardRemoved id=0", "ReaderRemoved id=0"));
  EXPECT_EQ(h.feed(wire(3, 0)), success(0));  // ReaderAdd after remove
}

TEST(HostQemu, ApduAndErrorFromTheClientGetNoReply) {
  Host h(HostPolicy::qemu());
  EXPECT_THAT(h.feed(wire(7, 0, ByteVec{0x90, 0x00})), IsEmpty());
  EXPECT_THAT(h.feed(error_msg(0, 1)), IsEmpty());
  EXPECT_THAT(h.feed(wire(2, 0, {})), IsEmpty());  // short Error
  EXPECT_EQ(h.log.kinds(), (std::vector<std::string>{"ProtocolViolation", "ProtocolViolation",
                                                      "ProtocolViolation"}));
}

TEST(HostQemu, TypesItDoesNotHandleGetGeneralErrorWithTheClientsId) {
  Host h(HostPolicy::qemu());
  EXPECT_EQ(h.feed(wire(8, 0)), general(0));               // Flush
  EXPECT_EQ(h.feed(wire(9, 4)), general(4));               // FlushComplete
  EXPECT_EQ(h.feed(wire(10, 0, ByteVec(256, 0))), general(0));  // Reconnect
  EXPECT_EQ(h.feed(wire(10, 0, ByteVec(3, 0))), general(0));    // malformed Reconnect
  EXPECT_EQ(h.feed(wire(0, 2)), general(2));
  EXPECT_EQ(h.feed(wire(0x63, 3, text_bytes("abc"))), general(3));
  EXPECT_FALSE(h.session.closed());
}

TEST(HostQemu, ByteByByteGivesTheSameReplies) {
  Host h(HostPolicy::qemu());
  const ByteVec in = cat({wire(1, 0, init_payload()), wire(3, 0), wire(5, 0, kAtr)});
  ByteVec out;
  for (std::uint8_t b : in) {
    const ByteVec one{b};
    const ByteVec got = h.feed(one);
    out.insert(out.end(), got.begin(), got.end());
  }
  EXPECT_EQ(out, cat({qemu_init_reply(), success(0), success(0)}));
  EXPECT_EQ(h.feed(cat({wire(6, 0), wire(4, 0)})), cat({success(0), success(0)}));
}

TEST(HostQemu, MessageOfExactly64KiBIsHandled) {
  Host h(HostPolicy::qemu());
  EXPECT_THAT(h.feed(wire(7, 0, ByteVec(65536 - 12, 0))), IsEmpty());
  EXPECT_EQ(h.feed(wire(6, 0)), success(0));
  EXPECT_FALSE(h.session.closed());
}

TEST(HostQemu, MessageOverBufferStopsTheSessionForGood) {
  Host h(HostPolicy::qemu());
  EXPECT_THAT(h.feed(cat({wire(7, 0, ByteVec(65536 - 11, 0)), wire(6, 0)})), IsEmpty());
  EXPECT_TRUE(h.session.closed());
  EXPECT_THAT(h.log.lines.back(), HasSubstr("64 KiB"));
  EXPECT_THAT(h.feed(wire(1, 0, init_payload())), IsEmpty());
}

// Measured: 52-byte ATR messages written as 26, then 52 bytes each ending
// mid-message, got 1260 answers (65536 / 52) and then none.
TEST(HostQemu, StreamNeverEndingOnABoundaryStallsAfter64KiB) {
  Host h(HostPolicy::qemu());
  h.feed(cat({wire(1, 0, init_payload()), wire(3, 0)}));
  ByteVec atr(40, 0);
  atr[0] = 0x3B;
  const ByteVec m = wire(5, 0, atr);
  ASSERT_EQ(m.size(), 52u);
  std::size_t replies = 0;
  auto count = [&](const ByteVec& out) { replies += out.size() / 16; };
  count(h.feed(ByteVec(m.begin(), m.begin() + 26)));
  for (int i = 0; i < 1400; ++i) {
    count(h.feed(cat({ByteVec(m.begin() + 26, m.end()), ByteVec(m.begin(), m.begin() + 26)})));
  }
  EXPECT_EQ(replies, 1260u);
  EXPECT_TRUE(h.session.closed());
}

// QEMU's chardev reads at most 4096 bytes (CHR_READ_BUF_LEN) at a time, so its
// boundary rule applies per 4096 bytes, not per receive(): 1300 ATR messages
// (67600 bytes) in one receive() empty the buffer at the 13th read (53248 bytes,
// a multiple of 52) and are all answered (as the real QEMU does:
// test_vschost_qemu_diff.test_many_messages_per_write).
TEST(HostQemu, OneLargeReceiveIsCutIntoQemuReads) {
  Host h(HostPolicy::qemu());
  h.feed(cat({wire(1, 0, init_payload()), wire(3, 0)}));
  ByteVec atr(40, 0);
  atr[0] = 0x3B;
  const ByteVec m = wire(5, 0, atr);
  ByteVec stream;
  for (int i = 0; i < 1300; ++i) stream.insert(stream.end(), m.begin(), m.end());
  EXPECT_EQ(h.feed(stream).size(), 1300u * 16);
  EXPECT_FALSE(h.session.closed());
  // A 65536-byte message and more after it in the same receive(): the 16th
  // read ends on the big message's last byte, so the rest is answered.
  EXPECT_EQ(h.feed(cat({wire(7, 0, ByteVec(65536 - 12, 0)), wire(6, 0)})), success(0));
  EXPECT_FALSE(h.session.closed());
}

TEST(HostQemu, RequestResponseTrafficNeverStalls) {
  Host h(HostPolicy::qemu());
  h.feed(cat({wire(1, 0, init_payload()), wire(3, 0)}));
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(h.feed(wire(6, 0)), success(0));
  EXPECT_FALSE(h.session.closed());
}

TEST(HostQemu, ApduRoundTripAndOneOutstanding) {
  Host h(HostPolicy::qemu());
  const ByteVec apdu{0x00, 0xA4, 0x04, 0x00};
  EXPECT_FALSE(h.session.send_apdu(0, apdu));  // no reader
  h.feed(cat({wire(1, 0, init_payload()), wire(3, 0)}));
  EXPECT_FALSE(h.session.send_apdu(0, apdu));  // no card
  h.feed(wire(5, 0, kAtr));
  h.log.clear();
  ASSERT_TRUE(h.session.send_apdu(0, apdu));
  EXPECT_FALSE(h.session.send_apdu(0, apdu));
  EXPECT_EQ(take_output(h.session), wire(7, 0, apdu));
  EXPECT_THAT(h.feed(wire(7, 0, ByteVec{0x90, 0x00})), IsEmpty());
  ASSERT_TRUE(h.session.send_apdu(0, apdu));
  take_output(h.session);
  EXPECT_THAT(h.feed(error_msg(0, 1)), IsEmpty());
  EXPECT_THAT(h.log.lines, ElementsAre("ApduResponse id=0 response=9000", "ApduError id=0 code=1"));
  EXPECT_FALSE(h.session.request_reconnect("h", "1"));
}

TEST(HostQemu, FlushCompletesWithoutQemusErrorWhenAsked) {
  Host h(HostPolicy::qemu());
  ASSERT_TRUE(h.session.flush(0));
  EXPECT_EQ(take_output(h.session), wire(8, 0));
  EXPECT_THAT(h.feed(wire(9, 0)), IsEmpty());
  EXPECT_THAT(h.log.lines, ElementsAre("FlushCompleted id=0"));
}

// --- Multi policy ---

TEST(HostMulti, AdvertisesItsExtensionsAndRefusesASecondInit) {
  Host h(HostPolicy::multi(2));
  EXPECT_EQ(h.feed(wire(1, 0, init_payload(2, 1))),
            wire(1, kU, init_payload(2, kCapabilityReconnect | kCapabilityCardControl)));
  EXPECT_EQ(h.feed(wire(1, 0, init_payload(2, 1))), general(0));
  EXPECT_TRUE(h.log.has_kind("ProtocolViolation"));
}

TEST(HostMulti, MalformedInitClosesWithoutAnswer) {
  Host h(HostPolicy::multi(2));
  EXPECT_THAT(h.feed(wire(1, 0, cat({text_bytes("XXXX"), words({2, 0})}))), IsEmpty());
  EXPECT_TRUE(h.session.closed());
  EXPECT_THAT(h.log.lines.back(), HasSubstr("magic"));
}

TEST(HostMulti, MessagesBeforeInitAreRefused) {
  Host h(HostPolicy::multi(2));
  EXPECT_EQ(h.feed(wire(3, 0)), general(kU));
  EXPECT_EQ(h.feed(wire(5, 1, kAtr)), general(1));
  EXPECT_THAT(h.feed(wire(7, 0, ByteVec{0x90, 0x00})), IsEmpty());
  EXPECT_EQ(h.log.kinds(), (std::vector<std::string>{"ProtocolViolation", "ProtocolViolation",
                                                      "ProtocolViolation"}));
  EXPECT_TRUE(h.session.readers().empty());
}

TEST(HostMulti, ReaderIdsLowestFreeUpToTheLimit) {
  Host h(HostPolicy::multi(2));
  h.feed(wire(1, 0, init_payload()));
  h.log.clear();
  EXPECT_EQ(h.feed(wire(3, kU, text_bytes("a"))), success(0));
  EXPECT_EQ(h.feed(wire(3, kU, text_bytes("b"))), success(1));
  EXPECT_EQ(h.feed(wire(3, kU, text_bytes("c"))), error_msg(kU, 2));
  EXPECT_EQ(h.feed(wire(4, 0)), success(0));
  EXPECT_EQ(h.feed(wire(3, kU, text_bytes("d"))), success(0));
  EXPECT_THAT(h.log.lines, ElementsAre("ReaderAdded id=0 name=a", "ReaderAdded id=1 name=b",
                                       "ReaderRefused name=c code=2", "ReaderRemoved id=0",
                                       "ReaderAdded id=0 name=d"));
  EXPECT_EQ(h.session.readers()[0].name, "d");
  // libcacard removes reader 0 after Init just in case: harmless, success.
  EXPECT_EQ(h.feed(wire(4, 7)), success(7));
  // A name that is not UTF-8 is refused like any broken request.
  EXPECT_EQ(h.feed(wire(3, kU, ByteVec{0xC3})), general(kU));
}

TEST(HostMulti, CardRules) {
  Host h(HostPolicy::multi(2));
  h.feed(cat({wire(1, 0, init_payload()), wire(3, kU)}));
  h.log.clear();
  EXPECT_EQ(h.feed(wire(5, 1, kAtr)), general(1));      // unknown reader
  EXPECT_EQ(h.feed(wire(6, 1)), general(1));            // unknown reader
  ByteVec qemu_only(40, 0);
  qemu_only[0] = 0x3B;                                  // QEMU accepts, ISO does not
  EXPECT_EQ(h.feed(wire(5, 0, qemu_only)), general(0));
  EXPECT_EQ(h.feed(wire(5, 0, kAtr)), success(0));
  EXPECT_EQ(h.feed(wire(5, 0, kAtr)), error_msg(0, 3));  // card already inserted
  EXPECT_EQ(h.feed(wire(6, 0)), success(0));
  EXPECT_EQ(h.feed(wire(6, 0)), success(0));            // no card: nothing to do
  const std::vector<std::string> kinds{"ProtocolViolation", "ProtocolViolation", "CardInserted",
                                       "CardInserted",      "ProtocolViolation", "CardRemoved"};
  EXPECT_EQ(h.log.kinds(), kinds);
  EXPECT_THAT(h.log.lines[2], HasSubstr("accepted=0"));
  EXPECT_THAT(h.log.lines[3], HasSubstr("accepted=1"));
}

TEST(HostMulti, ApduRulesAndViolations) {
  Host h(HostPolicy::multi(2));
  h.feed(cat({wire(1, 0, init_payload()), wire(3, kU), wire(3, kU), wire(5, 1, kAtr)}));
  h.log.clear();
  const ByteVec apdu{0x00, 0xB0, 0x00, 0x00, 0x10};
  EXPECT_FALSE(h.session.send_apdu(0, apdu));  // reader 0 has no card
  EXPECT_FALSE(h.session.send_apdu(5, apdu));  // no reader 5
  ASSERT_TRUE(h.session.send_apdu(1, apdu));
  EXPECT_EQ(take_output(h.session), wire(7, 1, apdu));
  EXPECT_EQ(h.feed(wire(7, 9, ByteVec{0x90, 0x00})), general(9));  // unknown reader
  EXPECT_THAT(h.feed(wire(7, 0, ByteVec{0x90, 0x00})), IsEmpty());  // none outstanding
  EXPECT_THAT(h.feed(error_msg(9, 1)), IsEmpty());                  // unknown reader
  EXPECT_THAT(h.feed(wire(7, 1, ByteVec{0x6A, 0x82})), IsEmpty());
  EXPECT_EQ(h.log.kinds(), (std::vector<std::string>{"ProtocolViolation", "ProtocolViolation",
                                                      "ProtocolViolation", "ApduResponse"}));
  EXPECT_EQ(h.log.lines.back(), "ApduResponse id=1 response=6A82");
  // A malformed Error still ends the outstanding APDU, as a general error.
  ASSERT_TRUE(h.session.send_apdu(1, apdu));
  take_output(h.session);
  EXPECT_THAT(h.feed(wire(2, 1, ByteVec{1})), IsEmpty());
  EXPECT_EQ(h.log.lines.back(), "ApduError id=1 code=1");
}

TEST(HostMulti, FlushAndOtherTypes) {
  Host h(HostPolicy::multi(1));
  h.feed(wire(1, 0, init_payload()));
  h.log.clear();
  EXPECT_EQ(h.feed(wire(9, 0)), general(0));  // FlushComplete nobody asked for
  ASSERT_TRUE(h.session.flush(0));
  EXPECT_EQ(take_output(h.session), wire(8, 0));
  EXPECT_THAT(h.feed(wire(9, 0)), IsEmpty());
  EXPECT_EQ(h.feed(wire(8, 0)), general(0));   // Flush from a client
  EXPECT_EQ(h.feed(wire(42, 5)), general(5));  // unknown type
  EXPECT_EQ(h.feed(wire(10, 0, ByteVec(256, 0))), general(0));
  EXPECT_EQ(h.log.kinds(), (std::vector<std::string>{"ProtocolViolation", "FlushCompleted",
                                                      "ProtocolViolation", "ProtocolViolation",
                                                      "ProtocolViolation"}));
}

TEST(HostMulti, ReconnectOnlyToAClientThatAdvertisedIt) {
  Host plain(HostPolicy::multi(1));
  EXPECT_FALSE(plain.session.request_reconnect("h", "1"));  // no Init yet
  plain.feed(wire(1, 0, init_payload(2, 0)));
  EXPECT_FALSE(plain.session.request_reconnect("h", "1"));

  Host capable(HostPolicy::multi(1));
  capable.feed(wire(1, 0, init_payload(2, 1)));
  EXPECT_FALSE(capable.session.request_reconnect(std::string(128, 'x'), "1"));  // does not fit
  ASSERT_TRUE(capable.session.request_reconnect("::1", "2001"));
  ByteVec payload(256, 0);
  std::copy_n("::1", 3, payload.begin());
  std::copy_n("2001", 4, payload.begin() + 128);
  EXPECT_EQ(take_output(capable.session), wire(10, kU, payload));
}

TEST(HostMulti, OversizedMessageClosesTheSession) {
  Host h(HostPolicy::multi(1));
  ByteVec header = wire(7, 0);
  header[8] = 0x7F;  // length 0x7F000000
  EXPECT_THAT(h.feed(header), IsEmpty());
  EXPECT_TRUE(h.session.closed());
  EXPECT_TRUE(h.log.has_kind("Closed"));
}

// A TLS client on a plaintext host: its ClientHello's record header (16 03 01,
// length) and handshake header read as a VSCard header whose length is the
// hello's version and random bytes, tens of megabytes. QEMU waits in silence;
// the session names the mismatch in its Closed reason, in both policies.
TEST(HostSession, TlsHelloIsNamed) {
  const ByteVec hello{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03, 0x5A,
                      0x11, 0x22, 0x33, 0x44};
  for (HostPolicy policy : {HostPolicy::qemu(), HostPolicy::multi(1)}) {
    Host h(policy);
    EXPECT_THAT(h.feed(hello), IsEmpty());
    EXPECT_TRUE(h.session.closed());
    EXPECT_THAT(h.log.lines.back(), HasSubstr("began with a TLS hello"));
  }
  // The same oversized header without the TLS bytes keeps QEMU's reason.
  Host plain(HostPolicy::qemu());
  ByteVec header = wire(7, 0);
  header[8] = 0x7F;
  plain.feed(header);
  EXPECT_THAT(plain.log.lines.back(), HasSubstr("64 KiB"));
}

}  // namespace
}  // namespace vscard::test
