// SPDX-License-Identifier: LGPL-2.1-or-later
// ScriptRunner with a fake client (readers, cards, responses) and a fake clock:
// pass, fail, timeouts, variables, removal, flush and disconnects.
#include <gtest/gtest.h>

#include "report.h"
#include "script_runner.h"

namespace vschost {
namespace {

using B = std::vector<std::uint8_t>;
using vscard::HostSession;

struct FakeTarget : ScriptTarget {
  std::vector<HostSession::ReaderInfo> list;
  std::vector<std::pair<vscard::ReaderId, B>> sent;
  std::vector<vscard::ReaderId> flushed;
  std::vector<std::pair<vscard::ReaderId, vscard::CardControlEvent>> controls;
  // What card_control() answers; Sent also updates the reader as HostSession does.
  vscard::CardControlResult control_result = vscard::CardControlResult::Sent;
  const std::vector<HostSession::ReaderInfo>& readers() const override { return list; }
  bool send_apdu(vscard::ReaderId r, std::span<const std::uint8_t> apdu) override {
    for (auto& x : list) {
      if (x.id == r && x.card_present && !x.apdu_outstanding) {
        x.apdu_outstanding = true;
        sent.emplace_back(r, B(apdu.begin(), apdu.end()));
        return true;
      }
    }
    return false;
  }
  bool flush(vscard::ReaderId r) override {
    flushed.push_back(r);
    return true;
  }
  vscard::CardControlResult card_control(vscard::ReaderId r,
                                         vscard::CardControlEvent e) override {
    controls.emplace_back(r, e);
    if (control_result != vscard::CardControlResult::Sent) return control_result;
    for (auto& x : list) {
      if (x.id != r) continue;
      x.powered = e != vscard::CardControlEvent::PowerOff;
      x.atr_outstanding = vscard::card_control_wants_atr(e);
    }
    return control_result;
  }
  // The client's ATR answering a power-on/reset; `accepted` as the host judged it.
  void reset_atr(vscard::ReaderId id, B atr, bool accepted = true) {
    for (auto& x : list) {
      if (x.id != id) continue;
      x.atr = std::move(atr);
      x.atr_outstanding = false;
      x.powered = accepted;
    }
  }
  void add(vscard::ReaderId id, std::string name, bool card) {
    HostSession::ReaderInfo info;
    info.id = id;
    info.name = std::move(name);
    info.card_present = card;
    info.atr = {0x3B, 0x00};
    list.push_back(info);
  }
  void answered(vscard::ReaderId id) {
    for (auto& x : list) if (x.id == id) x.apdu_outstanding = false;
  }
};

Script parse(std::string_view text) {
  ParseResult r = parse_script(text);
  if (auto* e = std::get_if<ScriptError>(&r)) ADD_FAILURE() << e->message;
  return std::get<Script>(r);
}

struct Fixture : ::testing::Test {
  FakeTarget target;
  Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);
  std::vector<StepResult> seen;

  std::unique_ptr<ScriptRunner> run(const Script& s) {
    auto r = std::make_unique<ScriptRunner>(s, target, [this](const StepResult& x) {
      seen.push_back(x);
    });
    r->start(t0);
    return r;
  }
  void respond(ScriptRunner& r, vscard::ReaderId id, B bytes, int ms = 1) {
    target.answered(id);
    r.apdu_response(t0 + Millis(ms), id, bytes);
  }
};

TEST_F(Fixture, PassingExchange) {
  target.add(0, "R0", true);
  Script s = parse("wait-card\nsend 00A40400 expect 9000\nsend 00B0 expect 6F XX 9000\n");
  auto r = run(s);
  ASSERT_EQ(target.sent.size(), 1u);
  EXPECT_EQ(target.sent[0].second, (B{0x00, 0xA4, 0x04, 0x00}));
  respond(*r, 0, {0x90, 0x00});
  ASSERT_EQ(target.sent.size(), 2u);
  respond(*r, 0, {0x6F, 0x01, 0x90, 0x00}, 5);
  EXPECT_TRUE(r->finished());
  EXPECT_TRUE(r->passed());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].elapsed, Millis(4));
  EXPECT_EQ(seen[2].response, (B{0x6F, 0x01, 0x90, 0x00}));
}

TEST_F(Fixture, WrongResponseFailsAndRunGoesOn) {
  target.add(0, "R0", true);
  Script s = parse("send 00A4 expect 9000\nsend 00B0\n");
  auto r = run(s);
  respond(*r, 0, {0x6A, 0x82});
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].status, StepResult::Status::Failed);
  EXPECT_NE(seen[0].detail.find("status word is 6A82"), std::string::npos) << seen[0].detail;
  respond(*r, 0, {0x90, 0x00});
  EXPECT_TRUE(r->finished());
  EXPECT_FALSE(r->passed());
}

TEST_F(Fixture, WaitsForCardOnNamedReader) {
  target.add(0, "R0", true);
  Script s = parse("wait-card \"R1\" timeout=5\nsend 00\n");
  auto r = run(s);
  EXPECT_TRUE(seen.empty());
  target.add(1, "R1", true);
  r->readers_changed(t0 + Millis(10));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].status, StepResult::Status::Passed);
  ASSERT_EQ(target.sent.size(), 1u);
  EXPECT_EQ(target.sent[0].first, 1u);  // the current reader is now R1
}

TEST_F(Fixture, TimeoutFailsTheStep) {
  Script s = parse("wait-card timeout=200ms\nsleep 1\n");
  auto r = run(s);
  ASSERT_TRUE(r->deadline().has_value());
  EXPECT_EQ(*r->deadline(), t0 + Millis(200));
  r->timer(t0 + Millis(100));  // early: nothing happens
  EXPECT_TRUE(seen.empty());
  r->timer(t0 + Millis(200));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].status, StepResult::Status::Failed);
  EXPECT_NE(seen[0].detail.find("timed out after 200 ms waiting for a card"), std::string::npos);
  EXPECT_EQ(*r->deadline(), t0 + Millis(1200));  // the sleep
  r->timer(t0 + Millis(1200));
  EXPECT_TRUE(r->finished());
  EXPECT_EQ(seen[1].status, StepResult::Status::Passed);
}

TEST_F(Fixture, ResponseTimeoutThenLateResponseIsNotTakenForTheNext) {
  target.add(0, "R0", true);
  Script s = parse("send 01 timeout=1\nsend 02 expect 9000\n");
  auto r = run(s);
  r->timer(t0 + Millis(1000));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].status, StepResult::Status::Failed);
  EXPECT_EQ(target.sent.size(), 1u);  // waits until the late response is in
  respond(*r, 0, {0x6F, 0x00}, 1500);
  r->readers_changed(t0 + Millis(1500));
  ASSERT_EQ(target.sent.size(), 2u);
  respond(*r, 0, {0x90, 0x00}, 1600);
  EXPECT_TRUE(r->finished());
  EXPECT_EQ(seen[1].status, StepResult::Status::Passed);
}

TEST_F(Fixture, VariablesFlowFromResponseToCommand) {
  target.add(0, "R0", true);
  Script s = parse("send 0084000004 expect $c:4 9000\nsend 0082 $c\nexpect $c * 9000\n");
  auto r = run(s);
  respond(*r, 0, {1, 2, 3, 4, 0x90, 0x00});
  ASSERT_EQ(target.sent.size(), 2u);
  EXPECT_EQ(target.sent[1].second, (B{0x00, 0x82, 1, 2, 3, 4}));
  EXPECT_EQ(r->variables().at("c"), (B{1, 2, 3, 4}));
  respond(*r, 0, {1, 2, 3, 4, 5, 0x90, 0x00});
  EXPECT_TRUE(r->passed());
}

TEST_F(Fixture, RemovalAndFlush) {
  target.add(0, "R0", true);
  Script s = parse("wait-card\nflush\nwait-removal\n");
  auto r = run(s);
  ASSERT_EQ(target.flushed, (std::vector<vscard::ReaderId>{0}));
  r->flush_completed(t0, 0);
  EXPECT_FALSE(r->finished());
  target.list[0].card_present = false;
  r->readers_changed(t0 + Millis(3));
  EXPECT_TRUE(r->passed());
}

TEST_F(Fixture, CardRemovedWhileWaitingForResponse) {
  target.add(0, "R0", true);
  Script s = parse("send 00\n");
  auto r = run(s);
  target.list[0].card_present = false;
  r->readers_changed(t0);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_NE(seen[0].detail.find("removed"), std::string::npos);
}

TEST_F(Fixture, ErrorInsteadOfResponse) {
  target.add(0, "R0", true);
  Script s = parse("send 00\n");
  auto r = run(s);
  r->apdu_error(t0, 0, 1);
  EXPECT_FALSE(r->passed());
  EXPECT_NE(seen[0].detail.find("Error(1)"), std::string::npos);
}

TEST_F(Fixture, DisconnectFailsCurrentAndSkipsRest) {
  Script s = parse("wait-card\nsend 00\nsend 01\n");
  auto r = run(s);
  r->disconnected(t0, "peer closed the connection");
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].status, StepResult::Status::Failed);
  EXPECT_EQ(seen[1].status, StepResult::Status::NotRun);
  EXPECT_EQ(seen[2].status, StepResult::Status::NotRun);
  EXPECT_TRUE(r->finished());
  EXPECT_FALSE(r->passed());

  // Reports of that run: TAP plan matches, JUnit counts failures and skips.
  std::vector<RunReport> runs{{"client 1", seen}};
  std::string tap = tap_document(runs);
  EXPECT_NE(tap.find("1..3\n"), std::string::npos);
  EXPECT_NE(tap.find("not ok 1 - line 1: wait-card"), std::string::npos);
  EXPECT_NE(tap.find("# SKIP"), std::string::npos);
  std::string xml = junit_document(runs, "x.vsc");
  EXPECT_NE(xml.find("tests=\"3\" failures=\"1\" skipped=\"2\""), std::string::npos) << xml;
}

TEST_F(Fixture, PowerCycleThenApdu) {
  target.add(0, "R0", true);
  Script s = parse("power-off\npower-on timeout=2s\nsend 00A4 expect 9000\nreset\n");
  auto r = run(s);
  ASSERT_EQ(target.controls.size(), 2u);  // power-off passes at once, power-on is sent
  EXPECT_EQ(target.controls[0].second, vscard::CardControlEvent::PowerOff);
  EXPECT_EQ(target.controls[1].second, vscard::CardControlEvent::PowerOn);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].status, StepResult::Status::Passed);
  EXPECT_TRUE(target.sent.empty());  // the APDU waits for the ATR
  ASSERT_TRUE(r->deadline().has_value());
  EXPECT_EQ(*r->deadline(), t0 + Millis(2000));
  target.reset_atr(0, {0x3B, 0x01});
  r->readers_changed(t0 + Millis(5));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].status, StepResult::Status::Passed);
  EXPECT_NE(seen[1].detail.find("ATR 3B01"), std::string::npos) << seen[1].detail;
  ASSERT_EQ(target.sent.size(), 1u);
  EXPECT_EQ(target.controls.size(), 2u);  // reset waits for the APDU's answer
  respond(*r, 0, {0x90, 0x00}, 6);
  ASSERT_EQ(target.controls.size(), 3u);
  EXPECT_EQ(target.controls[2].second, vscard::CardControlEvent::WarmReset);
  target.reset_atr(0, {0x3B, 0x02});
  r->readers_changed(t0 + Millis(7));
  EXPECT_TRUE(r->finished());
  EXPECT_TRUE(r->passed());
}

TEST_F(Fixture, PowerStepRefusedBySession) {
  target.add(0, "R0", true);
  target.control_result = vscard::CardControlResult::NotNegotiated;
  Script s = parse("reset\n");  // the runner keeps a reference
  auto r = run(s);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].status, StepResult::Status::Failed);
  const std::string why(vscard::to_string(vscard::CardControlResult::NotNegotiated));
  EXPECT_NE(seen[0].detail.find(why), std::string::npos) << seen[0].detail;
  EXPECT_FALSE(r->passed());
}

TEST_F(Fixture, PowerOnTimeoutRefusedAtrAndRemoval) {
  target.add(0, "R0", true);
  Script s = parse("power-on timeout=100ms\npower-on\npower-on\n");
  auto r = run(s);
  r->timer(t0 + Millis(100));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].status, StepResult::Status::Failed);
  EXPECT_NE(seen[0].detail.find("the card's new ATR"), std::string::npos) << seen[0].detail;
  // The next power-on waits while the first one's ATR is still owed.
  EXPECT_EQ(target.controls.size(), 1u);
  target.reset_atr(0, {0x3B, 0x01});
  r->readers_changed(t0 + Millis(101));
  ASSERT_EQ(target.controls.size(), 2u);
  target.reset_atr(0, {0x00}, false);
  r->readers_changed(t0 + Millis(102));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].status, StepResult::Status::Failed);
  EXPECT_NE(seen[1].detail.find("refused"), std::string::npos) << seen[1].detail;
  ASSERT_EQ(target.controls.size(), 3u);
  target.list[0].card_present = false;
  r->readers_changed(t0 + Millis(103));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].status, StepResult::Status::Failed);
  EXPECT_NE(seen[2].detail.find("removed"), std::string::npos) << seen[2].detail;
  EXPECT_TRUE(r->finished());
}

}  // namespace
}  // namespace vschost
