// SPDX-License-Identifier: LGPL-2.1-or-later
// Bridge's fast path (CardSource::transmit_now): the source lends its one
// answer buffer and writes over it at its next call. With a T=1 card shown to
// the host as T=0 (T0Presenter), one host command can take several card
// commands in a row (the card's own 61xx chain, docs/t0-presentation.md), so
// each lent answer must be used up before the next transmit_now.
#include "bridge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "session_test_util.h"

namespace vscclient {
namespace {

using vscard::test::ByteVec;
using vscard::test::wire;

constexpr std::uint32_t kApdu = 7;
// vsmartcard's vicc ATR: offers only T=1, so the presenter translates.
const ByteVec kT1Atr = {0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B};

// Answers at once from a table, into one buffer it reuses; each call first
// fills the buffer with EE, so an earlier answer read after the next call
// shows as EE bytes.
class LendingCard : public CardSource {
 public:
  std::map<ByteVec, ByteVec> answers;
  std::vector<ByteVec> commands;

  std::string_view kind() const override { return "lending"; }
  bool start(GMainContext*, CardSourceListener&, std::string*) override { return true; }
  void stop() override {}
  void transmit(SourceReaderId, std::vector<std::uint8_t> apdu, std::size_t, ApduDone done) override {
    ADD_FAILURE() << "queued: " << vscard::to_hex(apdu);
    done(ApduResult{});
  }
  ApduNow transmit_now(SourceReaderId, std::span<const std::uint8_t> apdu, std::size_t) override {
    commands.emplace_back(apdu.begin(), apdu.end());
    std::fill(buffer_.begin(), buffer_.end(), 0xEE);
    auto it = answers.find(commands.back());
    if (it == answers.end()) return {ApduNow::Kind::Failed, {}, "no answer for this command"};
    std::copy(it->second.begin(), it->second.end(), buffer_.begin());
    return {ApduNow::Kind::Answered, std::span<const std::uint8_t>(buffer_).first(it->second.size())};
  }

 private:
  std::vector<std::uint8_t> buffer_ = std::vector<std::uint8_t>(512);
};

ByteVec bytes(std::size_t n, std::uint8_t value) { return ByteVec(n, value); }
ByteVec join(ByteVec a, const ByteVec& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class BridgeTest : public testing::Test {
 protected:
  void SetUp() override {
    session_ = std::make_unique<vscard::ClientSession>(vscard::ClientSession::Options{},
                                                       [this](const vscard::ClientEvent& event) {
      if (auto* apdu = std::get_if<vscard::client_event::ApduReceived>(&event))
        bridge_->on_apdu(apdu->reader, apdu->apdu);
    });
    bridge_ = std::make_unique<Bridge>(*session_, Bridge::Options{});
    session_->receive(wire(1, 0xFFFFFFFF, vscard::test::init_payload()));
    bridge_->reader_added(card_, 0, "lending reader");
    session_->receive(vscard::test::error_msg(0, 0));  // reader 0 accepted
    bridge_->card_inserted(card_, 0, kT1Atr);
    session_->receive(vscard::test::error_msg(0, 0));  // ATR accepted
    drain();
  }

  ByteVec drain() {
    auto out = session_->pending_output();
    ByteVec bytes(out.begin(), out.end());
    session_->consume_output(out.size());
    return bytes;
  }

  // The host's command for reader 0; the bytes the session sends back.
  ByteVec host_sends(const ByteVec& apdu) {
    session_->receive(wire(kApdu, 0, apdu));
    return drain();
  }

  LendingCard card_;
  std::unique_ptr<vscard::ClientSession> session_;
  std::unique_ptr<Bridge> bridge_;
};

TEST_F(BridgeTest, ChainedCardAnswersOnTheFastPathReachTheHostWhole) {
  // A case-4 SELECT whose Le the T=0 host dropped: the presenter sends it with
  // Le 00; the card answers 10 bytes and 61 05; the presenter fetches the
  // other 5 with GET RESPONSE to the card, in the same call.
  const ByteVec select = {0x00, 0xA4, 0x04, 0x00, 0x02, 0x3F, 0x00};
  card_.answers[join(select, {0x00})] = join(bytes(10, 0xA1), {0x61, 0x05});
  card_.answers[{0x00, 0xC0, 0x00, 0x00, 0x05}] = join(bytes(5, 0xB2), {0x90, 0x00});
  // The host (T=0) is told 15 bytes wait, and fetches them.
  EXPECT_EQ(host_sends(select), wire(kApdu, 0, {0x61, 0x0F}));
  ASSERT_EQ(card_.commands.size(), 2u);
  EXPECT_EQ(host_sends({0x00, 0xC0, 0x00, 0x00, 0x0F}),
            wire(kApdu, 0, join(join(bytes(10, 0xA1), bytes(5, 0xB2)), {0x90, 0x00})));
  EXPECT_EQ(card_.commands.size(), 2u);  // answered from what the presenter kept
}

TEST_F(BridgeTest, AnswerWithoutPresentationIsSentBeforeTheNextCall) {
  Bridge::Options raw;
  raw.present.t0 = vscard::T0Translation::Off;
  raw.present.shape_responses = false;
  bridge_ = std::make_unique<Bridge>(*session_, raw);
  bridge_->reader_added(card_, 1, "raw reader");
  session_->receive(vscard::test::error_msg(1, 0));
  bridge_->card_inserted(card_, 1, kT1Atr);
  session_->receive(vscard::test::error_msg(1, 0));
  drain();
  const ByteVec command = {0x00, 0xCA, 0x01, 0x02, 0x00};
  card_.answers[command] = join(bytes(200, 0x5A), {0x90, 0x00});
  session_->receive(wire(kApdu, 1, command));
  EXPECT_EQ(drain(), wire(kApdu, 1, join(bytes(200, 0x5A), {0x90, 0x00})));
}

}  // namespace
}  // namespace vscclient
