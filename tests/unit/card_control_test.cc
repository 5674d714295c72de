// SPDX-License-Identifier: LGPL-2.1-or-later
// The CardControl extension (docs/protocol.md, "CardControl (11)"): its wire
// form, its negotiation (nothing new reaches a peer that did not ask), and the
// state rules of both sessions, with hand-written bytes and with the two
// sessions pumped against each other.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vscard/decoder.h"
#include "session_test_util.h"

namespace vscard::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using R = CardControlResult;
using E = CardControlEvent;

const ByteVec kAtr{0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B};
const ByteVec kNewAtr{0x3B, 0x02, 0x14, 0x50};
constexpr std::uint32_t kU = 0xFFFFFFFFu;
constexpr std::uint32_t kBoth = kCapabilityReconnect | kCapabilityCardControl;

ByteVec card_control(std::uint32_t reader_id, std::uint32_t code) {
  return wire(11, reader_id, words({code}));
}

TEST(CardControlWire, EncodesTypeElevenWithOneWord) {
  ByteVec out;
  ASSERT_TRUE(encode(Message{3, CardControl{static_cast<std::uint32_t>(E::WarmReset)}}, out));
  EXPECT_EQ(out, card_control(3, 3));
  EXPECT_EQ(to_string(MessageType::CardControl), "CardControl");
  EXPECT_EQ(to_string(E::PowerOff), "power off");
  EXPECT_EQ(to_string(static_cast<E>(99)), "unknown event");
}

TEST(CardControlWire, DecodesAndRefusesOtherLengths) {
  Decoder d;
  ByteVec in = card_control(0, 0xDEADBEEF);  // unknown codes are kept raw
  Bytes view(in);
  Decoded r = d.next(view);
  ASSERT_EQ(r.status, DecodeStatus::Message);
  EXPECT_EQ(std::get<CardControl>(r.message.body).code, 0xDEADBEEFu);
  for (const ByteVec& bad : {wire(11, 0), wire(11, 0, ByteVec(5, 0))}) {
    Bytes v(bad);
    Decoded m = d.next(v);
    EXPECT_EQ(m.status, DecodeStatus::Malformed);
    EXPECT_EQ(m.error, DecodeError::CardControlBadLength);
  }
}

// Both extensions asked for unless a test says otherwise.
struct Client : LoggedClient {
  explicit Client(std::uint32_t caps = kBoth) : LoggedClient(caps) {}
};

// A client with one active reader (id 0) holding a card, its ATR acknowledged.
ReaderHandle ready(Client& c, std::uint32_t host_caps) {
  take_output(c.session);
  c.session.receive(wire(1, kU, init_payload(2, host_caps)));
  const ReaderHandle r = c.session.add_reader("R");
  c.session.insert_card(r, kAtr);
  c.session.receive(error_msg(0, 0));  // ReaderAdd accepted as id 0
  c.session.receive(error_msg(0, 0));  // ATR accepted
  take_output(c.session);
  c.log.clear();
  return r;
}

TEST(CardControlClient, DeliversEveryEventWhenNegotiated) {
  Client c;
  const ReaderHandle r = ready(c, kCapabilityCardControl);
  for (std::uint32_t code = 1; code <= 6; ++code) {
    c.session.receive(card_control(0, code));
    if (code == 2 || code == 3) {
      EXPECT_TRUE(c.session.send_reset_atr(r, kNewAtr));
      EXPECT_EQ(take_output(c.session), wire(5, 0, kNewAtr));
      c.session.receive(error_msg(0, 0));
    }
    EXPECT_THAT(take_output(c.session), IsEmpty());
  }
  EXPECT_THAT(c.log.lines,
              ElementsAre("CardControlReceived reader=0 event=power off",
                          "CardControlReceived reader=0 event=power on",
                          "CardControlReceived reader=0 event=warm reset",
                          "CardControlReceived reader=0 event=reader in use",
                          "CardControlReceived reader=0 event=reader not in use",
                          "CardControlReceived reader=0 event=reader exclusive"));
  // Each reset is answered by the ATR message with the new ATR, in order.
  EXPECT_EQ(c.session.reader(r)->atr, kNewAtr);
  EXPECT_FALSE(c.session.send_reset_atr(r, kNewAtr));  // nothing owed any more
}

TEST(CardControlClient, ResetAnswerIsTheAtrMessage) {
  Client c;
  const ReaderHandle r = ready(c, kCapabilityCardControl);
  c.session.receive(card_control(0, 2));
  ASSERT_TRUE(c.session.send_reset_atr(r, kNewAtr));
  EXPECT_EQ(take_output(c.session), wire(5, 0, kNewAtr));
  c.session.receive(error_msg(0, 0));  // the host's answer matches the ATR
  EXPECT_FALSE(c.log.has_kind("HostError"));
}

TEST(CardControlClient, NotNegotiatedIsIgnored) {
  // The host did not advertise the bit, or our owner did not ask for it.
  Client plain_host;
  ready(plain_host, 0);
  Client plain_us(kCapabilityReconnect);
  ready(plain_us, kBoth);
  EXPECT_FALSE(plain_us.session.negotiated(kCapabilityCardControl));
  for (Client* c : {&plain_host, &plain_us}) {
    c->session.receive(card_control(0, 1));
    EXPECT_THAT(take_output(c->session), IsEmpty());
    EXPECT_THAT(c->log.lines, ElementsAre(HasSubstr("without the negotiated capability")));
  }
}

TEST(CardControlClient, HostileInputHasDefinedOutcomes) {
  Client c;
  const ReaderHandle r = ready(c, kCapabilityCardControl);
  c.session.receive(card_control(0, 0));
  c.session.receive(card_control(0, 7));
  c.session.receive(card_control(9, 1));  // a reader we do not have
  c.session.receive(wire(11, 0, ByteVec(3, 0)));
  EXPECT_THAT(c.log.kinds(), ElementsAre("ProtocolViolation", "ProtocolViolation",
                                         "ProtocolViolation", "ProtocolViolation"));
  EXPECT_THAT(c.log.lines[0], HasSubstr("unknown event code 0"));
  EXPECT_THAT(c.log.lines[2], HasSubstr("reader id 9"));
  // A power event while an APDU is owed is ignored; the APDU stays owed.
  c.log.clear();
  c.session.receive(wire(7, 0, ByteVec{0x00, 0xB0, 0x00, 0x00, 0x00}));
  c.session.receive(card_control(0, 3));
  c.session.receive(card_control(0, 4));  // session events are not power events
  EXPECT_THAT(c.log.lines, ElementsAre(HasSubstr("ApduReceived"), HasSubstr("outstanding"),
                                       "CardControlReceived reader=0 event=reader in use"));
  EXPECT_FALSE(c.session.send_reset_atr(r, kNewAtr));
  EXPECT_TRUE(c.session.send_apdu_response(r, ByteVec{0x90, 0x00}));
  // Without a card: power events ignored.
  c.session.remove_card(r);
  c.log.clear();
  c.session.receive(card_control(0, 2));
  EXPECT_THAT(c.log.lines, ElementsAre(HasSubstr("without a card")));
  EXPECT_FALSE(c.session.send_reset_atr(r, kNewAtr));
  // Repeated 10,000 times: one event each, nothing sent.
  c.session.insert_card(r, kAtr);
  take_output(c.session);
  c.log.clear();
  for (int i = 0; i < 10000; ++i) c.session.receive(card_control(0, 1));
  EXPECT_EQ(c.log.lines.size(), 10000u);
  EXPECT_THAT(take_output(c.session), IsEmpty());
}

// --- Both sessions pumped against each other ---

struct Pair {
  explicit Pair(HostPolicy policy, std::uint32_t client_caps = kBoth)
      : c(client_caps), h(policy, [this](const HostEvent& e) { hlog.lines.push_back(describe(e)); }) {
    reader = c.session.add_reader("R");
    c.session.insert_card(reader, kAtr);
    pump(c.session, h);
    c.log.clear();
    hlog.clear();
  }
  Client c;
  EventLog hlog;
  HostSession h;
  ReaderHandle reader = 0;
};

TEST(CardControlPair, PowerCycleAndResetReachTheClientInOrder) {
  Pair p(HostPolicy::multi(1));
  ASSERT_TRUE(p.c.session.negotiated(kCapabilityCardControl));
  p.c.on_event = [&](const ClientEvent& e) {
    if (const auto* cc = std::get_if<client_event::CardControlReceived>(&e);
        cc && card_control_wants_atr(cc->event)) {
      p.c.session.send_reset_atr(cc->reader, kNewAtr);
    }
  };
  EXPECT_EQ(p.h.send_card_control(0, E::PowerOff), R::Sent);
  EXPECT_FALSE(p.h.send_apdu(0, ByteVec{0x00, 0xA4, 0x04, 0x00}));  // unpowered
  EXPECT_EQ(p.h.send_card_control(0, E::WarmReset), R::NotPowered);
  EXPECT_EQ(p.h.send_card_control(0, E::PowerOn), R::Sent);
  EXPECT_EQ(p.h.send_card_control(0, E::WarmReset), R::AtrOutstanding);
  pump(p.c.session, p.h);
  EXPECT_EQ(p.h.send_card_control(0, E::WarmReset), R::Sent);
  pump(p.c.session, p.h);
  EXPECT_THAT(p.c.log.lines, ElementsAre("CardControlReceived reader=0 event=power off",
                                         "CardControlReceived reader=0 event=power on",
                                         "CardControlReceived reader=0 event=warm reset"));
  EXPECT_THAT(p.hlog.lines, ElementsAre("CardReset id=0 atr=3B021450 accepted=1",
                                        "CardReset id=0 atr=3B021450 accepted=1"));
  EXPECT_EQ(p.h.reader(0)->atr, kNewAtr);
  EXPECT_TRUE(p.h.send_apdu(0, ByteVec{0x00, 0xA4, 0x04, 0x00}));
  EXPECT_EQ(p.h.send_card_control(0, E::PowerOff), R::ApduOutstanding);
  EXPECT_EQ(p.h.send_card_control(0, E::ReaderInUse), R::Sent);  // not a power event
  EXPECT_EQ(p.h.send_card_control(7, E::ReaderInUse), R::UnknownReader);
  EXPECT_EQ(p.h.send_card_control(0, static_cast<E>(42)), R::UnknownEvent);
  EXPECT_FALSE(p.c.log.has_kind("ProtocolViolation"));
  EXPECT_FALSE(p.hlog.has_kind("ProtocolViolation"));
}

TEST(CardControlPair, RefusedResetAtrLeavesTheCardUnpowered) {
  Pair p(HostPolicy::multi(1));
  p.c.on_event = [&](const ClientEvent& e) {
    if (const auto* cc = std::get_if<client_event::CardControlReceived>(&e)) {
      p.c.session.send_reset_atr(cc->reader, ByteVec{0x00});  // not an ATR
    }
  };
  EXPECT_EQ(p.h.send_card_control(0, E::PowerOn), R::Sent);
  pump(p.c.session, p.h);
  EXPECT_THAT(p.hlog.lines, ElementsAre("CardReset id=0 atr=00 accepted=0"));
  EXPECT_TRUE(p.c.log.has_kind("AtrRejected"));
  EXPECT_FALSE(p.h.reader(0)->powered);
  EXPECT_FALSE(p.h.send_apdu(0, ByteVec{0x00, 0xA4, 0x04, 0x00}));
}

TEST(CardControlPair, NoCardIsRefusedByTheHost) {
  Pair p(HostPolicy::multi(1));
  p.c.session.remove_card(p.reader);
  pump(p.c.session, p.h);
  EXPECT_EQ(p.h.send_card_control(0, E::PowerOn), R::NoCard);
  EXPECT_EQ(p.h.send_card_control(0, E::ReaderNotInUse), R::Sent);
}

TEST(CardControlPair, NeverSentToAPlainClientNorByAQemuHost) {
  // A client without the bit (libcacard's vscclient sends 0; ours by default).
  Pair plain(HostPolicy::multi(1), kCapabilityReconnect);
  for (std::uint32_t code = 1; code <= 6; ++code) {
    EXPECT_EQ(plain.h.send_card_control(0, static_cast<E>(code)), R::NotNegotiated);
  }
  EXPECT_THAT(take_output(plain.h), IsEmpty());
  // QEMU's policy never advertises it: its Init stays caps 0, byte for byte.
  Pair qemu(HostPolicy::qemu());
  EXPECT_FALSE(qemu.c.session.negotiated(kCapabilityCardControl));
  EXPECT_EQ(qemu.h.send_card_control(0, E::PowerOff), R::NotNegotiated);
  EXPECT_THAT(take_output(qemu.h), IsEmpty());
}

TEST(CardControlHost, ClientSendingItGetsErrorGeneral) {
  for (HostPolicy policy : {HostPolicy::qemu(), HostPolicy::multi(1)}) {
    EventLog log;
    HostSession h(policy, [&](const HostEvent& e) { log.lines.push_back(describe(e)); });
    h.receive(wire(1, 0, init_payload(2, kCapabilityCardControl)));
    take_output(h);
    h.receive(card_control(0, 1));
    EXPECT_EQ(take_output(h), error_msg(0, 1));
  }
}

TEST(CardControlHost, MultiAdvertisesTheBit) {
  HostSession h(HostPolicy::multi(1), {});
  h.receive(wire(1, 0, init_payload(2, 0)));
  EXPECT_EQ(take_output(h), wire(1, kU, init_payload(2, kBoth)));
}

}  // namespace
}  // namespace vscard::test
