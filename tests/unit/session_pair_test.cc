// SPDX-License-Identifier: LGPL-2.1-or-later
// ClientSession and HostSession driven against each other (bytes pumped both
// ways until both are quiet), and the steady state of both measured with a
// counting operator new: an APDU and its answer allocate nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "session_test_util.h"

// Counts every allocation of this program.
static std::atomic<std::size_t> g_allocations{0};

// noinline: GCC would otherwise see malloc/free pairs across inlined
// new/delete and warn about a mismatch (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace vscard::test {
namespace {

const ByteVec kAtr{0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B};
using State = ClientSession::ReaderState;

using Client = LoggedClient;

// --- Against HostSession: bytes pumped both ways until both are quiet ---

TEST(ClientAgainstHost, QemuPolicyOneReaderPerConnection) {
  Client c;
  EventLog hlog;
  HostSession h(HostPolicy::qemu(), [&](const HostEvent& e) { hlog.lines.push_back(describe(e)); });
  const ReaderHandle a = c.session.add_reader("A");
  const ReaderHandle b = c.session.add_reader("B");
  c.session.insert_card(a, kAtr);
  pump(c.session, h);
  EXPECT_EQ(c.session.reader(a)->state, State::Active);
  EXPECT_EQ(c.session.reader(b)->state, State::Rejected);
  EXPECT_EQ(h.readers().size(), 1u);
  EXPECT_TRUE(h.reader(0)->card_present);

  c.on_event = [&](const ClientEvent& e) {
    if (std::holds_alternative<client_event::ApduReceived>(e)) {
      c.session.send_apdu_response(a, ByteVec{0x90, 0x00});
    }
  };
  ASSERT_TRUE(h.send_apdu(0, ByteVec{0x00, 0xA4, 0x04, 0x00}));
  pump(c.session, h);
  EXPECT_EQ(hlog.lines.back(), "ApduResponse id=0 response=9000");
  ASSERT_TRUE(h.flush(0));
  pump(c.session, h);
  EXPECT_EQ(hlog.lines.back(), "FlushCompleted id=0");
  c.session.remove_reader(a);
  pump(c.session, h);
  EXPECT_TRUE(h.readers().empty());
  EXPECT_FALSE(c.log.has_kind("ProtocolViolation"));
  EXPECT_FALSE(c.log.has_kind("HostError"));
}

TEST(ClientAgainstHost, MultiPolicyReadersAndReconnect) {
  Client c;
  EventLog hlog;
  HostSession h(HostPolicy::multi(2), [&](const HostEvent& e) { hlog.lines.push_back(describe(e)); });
  const ReaderHandle r0 = c.session.add_reader("A");
  const ReaderHandle r1 = c.session.add_reader("B");
  const ReaderHandle r2 = c.session.add_reader("C");
  c.session.insert_card(r1, kAtr);
  pump(c.session, h);
  EXPECT_EQ(c.session.reader(r0)->id, 0u);
  EXPECT_EQ(c.session.reader(r1)->id, 1u);
  EXPECT_EQ(c.session.reader(r2)->state, State::Rejected);
  EXPECT_TRUE(h.reader(1)->card_present);
  EXPECT_TRUE(c.session.negotiated(kCapabilityReconnect));
  ASSERT_TRUE(h.request_reconnect("127.0.0.1", "2001"));
  pump(c.session, h);
  EXPECT_EQ(c.log.lines.back(), "ReconnectRequested 127.0.0.1:2001");
  EXPECT_FALSE(hlog.has_kind("ProtocolViolation"));
}

// --- Steady state: an APDU in and its response out allocate nothing ---

TEST(ClientSteadyState, ApduInResponseOutDoesNotAllocate) {
  ClientSession s(ClientSession::Options{}, [](const ClientEvent&) {});
  const ReaderHandle r = s.add_reader("R");
  s.receive(qemu_init_reply());
  s.insert_card(r, kAtr);
  s.receive(cat({error_msg(0, 0), error_msg(0, 0)}));
  s.consume_output(s.pending_output().size());
  const ByteVec in = wire(7, 0, ByteVec{0x00, 0xA4, 0x04, 0x00, 0x00});
  const ByteVec response{0x6F, 0x10, 0x84, 0x08, 0xA0, 0, 0, 0, 3, 0, 0, 0, 0x90, 0x00};
  auto round = [&](bool split) {
    if (split) {  // an APDU arriving in two reads goes through the decoder's buffer
      s.receive(Bytes(in).first(7));
      s.receive(Bytes(in).subspan(7));
    } else {
      s.receive(in);
    }
    const bool ok = s.send_apdu_response(r, response);
    s.consume_output(5);  // a short write first
    s.consume_output(s.pending_output().size());
    return ok;
  };
  // Warm-up: buffers reach their working size.
  for (int i = 0; i < 3; ++i) {
    round(false);
    round(true);
  }
  const std::size_t before = g_allocations.load();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(round(i % 2 == 0));
  }
  EXPECT_EQ(g_allocations.load() - before, 0u);
  // The counter does count: one more reader allocates.
  s.add_reader("another");
  EXPECT_GT(g_allocations.load() - before, 0u);
}


TEST(HostSteadyState, ApduOutResponseInDoesNotAllocate) {
  for (const HostPolicy& policy : {HostPolicy::qemu(), HostPolicy::multi(2)}) {
    HostSession h(policy, [](const HostEvent&) {});
    h.receive(cat({wire(1, 0, init_payload()), wire(3, 0xFFFFFFFFu), wire(5, 0, kAtr)}));
    h.consume_output(h.pending_output().size());
    const ByteVec apdu{0x00, 0xB0, 0x00, 0x00, 0x20};
    const ByteVec response = wire(7, 0, ByteVec(34, 0x90));
    auto round = [&] {
      const bool ok = h.send_apdu(0, apdu);
      h.consume_output(h.pending_output().size());
      h.receive(response);
      return ok;
    };
    for (int i = 0; i < 3; ++i) round();
    const std::size_t before = g_allocations.load();
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(round());
    EXPECT_EQ(g_allocations.load() - before, 0u);
  }
}

TEST(PairSteadyState, ClientAndHostTogetherDoNotAllocate) {
  HostSession h(HostPolicy::multi(1), [](const HostEvent&) {});
  ReaderHandle reader = 0;
  ClientSession* self = nullptr;
  const ByteVec response{0x90, 0x00};
  ClientSession c(ClientSession::Options{}, [&](const ClientEvent& e) {
    if (std::holds_alternative<client_event::ApduReceived>(e)) self->send_apdu_response(reader, response);
  });
  self = &c;
  reader = c.add_reader("R");
  c.insert_card(reader, kAtr);
  // Pumps without copying: each side reads the other's pending bytes in place.
  auto pump_in_place = [&] {
    for (int i = 0; i < 10; ++i) {
      const Bytes to_host = c.pending_output();
      const std::size_t n_host = to_host.size();
      h.receive(to_host);
      c.consume_output(n_host);
      const Bytes to_client = h.pending_output();
      const std::size_t n_client = to_client.size();
      c.receive(to_client);
      h.consume_output(n_client);
      if (n_host == 0 && n_client == 0) return;
    }
  };
  pump_in_place();
  ASSERT_TRUE(h.reader(0) != nullptr && h.reader(0)->card_present);
  const ByteVec apdu{0x00, 0xA4, 0x04, 0x00, 0x00};
  for (int i = 0; i < 3; ++i) {
    h.send_apdu(0, apdu);
    pump_in_place();
  }
  const std::size_t before = g_allocations.load();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(h.send_apdu(0, apdu));
    pump_in_place();
  }
  EXPECT_EQ(g_allocations.load() - before, 0u);
  EXPECT_FALSE(h.reader(0)->apdu_outstanding);
}

}  // namespace
}  // namespace vscard::test
