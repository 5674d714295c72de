// SPDX-License-Identifier: LGPL-2.1-or-later
// SessionLink: a real ClientSession and a real HostSession talking over a real
// loopback TCP connection through two links; a host that goes away in the
// middle of a message; a session that closes itself.
#include "vscard/session_link.h"

#include <optional>

#include "transport_fixture.h"
#include "vscard/client_session.h"
#include "vscard/host_session.h"

namespace vscard {
namespace {

using Vec = std::vector<std::uint8_t>;
// An ATR QEMU's check_atr accepts (also used by host_session_test).
const Vec kAtr{0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B};
const Vec kSelect{0x00, 0xA4, 0x04, 0x00, 0x00};
const Vec kOk{0x90, 0x00};

class SessionLinkTest : public testing::TransportTest {
 protected:
  void connect_pair() {
    listener_ = listen(Address::tcp("127.0.0.1", 0));
    ASSERT_TRUE(listener_);
    Connector::Options options;
    options.address = Address::tcp("127.0.0.1", listener_->port());
    connector_ = connector(options);
    connector_->start();
    ASSERT_TRUE(run_until([&] { return !connected.empty() && !accepted.empty(); }));
  }
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Connector> connector_;
};

TEST_F(SessionLinkTest, ClientAndHostExchangeApdus) {
  connect_pair();
  std::optional<SessionLink<HostSession>> host_link;
  std::optional<SessionLink<ClientSession>> client_link;
  std::optional<Vec> response;
  std::optional<ReaderId> host_reader;
  HostSession host(HostPolicy::qemu(), [&](const HostEvent& e) {
    if (auto* card = std::get_if<host_event::CardInserted>(&e); card && card->accepted) {
      host_reader = card->id;
      // Inside receive(): the link writes it once receive() returns.
      EXPECT_TRUE(host.send_apdu(card->id, kSelect));
    } else if (auto* r = std::get_if<host_event::ApduResponse>(&e)) {
      response = Vec(r->response.begin(), r->response.end());
    }
  });
  std::vector<Vec> apdus_seen;
  ClientSession* client_ptr = nullptr;
  ClientSession client({}, [&](const ClientEvent& e) {
    if (auto* apdu = std::get_if<client_event::ApduReceived>(&e)) {
      apdus_seen.emplace_back(apdu->apdu.begin(), apdu->apdu.end());
      EXPECT_TRUE(client_ptr->send_apdu_response(apdu->reader, kOk));
    }
  });
  client_ptr = &client;
  host_link.emplace(host, *accepted[0]->connection, [](const CloseReason& r) { ADD_FAILURE() << r.message; });
  client_link.emplace(client, *connected[0]->connection, [](const CloseReason& r) { ADD_FAILURE() << r.message; });

  const ReaderHandle reader = client.add_reader("Link Test Reader");
  EXPECT_TRUE(client.insert_card(reader, kAtr));
  ASSERT_TRUE(run_until([&] { return response.has_value(); }));
  EXPECT_EQ(*response, kOk);
  ASSERT_EQ(apdus_seen.size(), 1u);
  EXPECT_EQ(apdus_seen[0], kSelect);
  EXPECT_TRUE(client.host_init_received());
  EXPECT_TRUE(host.client_init_received());

  // Many round trips through the same buffers.
  for (int i = 0; i < 200; ++i) {
    response.reset();
    // Outside any callback: the link sends it without being asked.
    ASSERT_TRUE(host.send_apdu(*host_reader, kSelect));
    ASSERT_TRUE(run_until([&] { return response.has_value(); }));
  }
  EXPECT_EQ(apdus_seen.size(), 201u);
  EXPECT_EQ(connected[0]->connection->queued_bytes(), 0u);
  EXPECT_TRUE(client.pending_output().empty());
  // Links go before their sessions and connections.
  client_link.reset();
  host_link.reset();
}

// A card source answers on a worker and the answer comes back through the main
// loop, outside every session and link callback (vscclient's Bridge). Nobody
// flushes: the session's output notifier makes the link write it.
TEST_F(SessionLinkTest, AnswerGivenLaterFromTheMainLoopIsSentWithoutFlush) {
  connect_pair();
  std::optional<SessionLink<HostSession>> host_link;
  std::optional<SessionLink<ClientSession>> client_link;
  std::optional<Vec> response;
  HostSession host(HostPolicy::qemu(), [&](const HostEvent& e) {
    if (auto* card = std::get_if<host_event::CardInserted>(&e); card && card->accepted) {
      EXPECT_TRUE(host.send_apdu(card->id, kSelect));
    } else if (auto* r = std::get_if<host_event::ApduResponse>(&e)) {
      response = Vec(r->response.begin(), r->response.end());
    }
  });
  ClientSession* client_ptr = nullptr;
  std::optional<ReaderHandle> owed;
  ClientSession client({}, [&](const ClientEvent& e) {
    if (auto* apdu = std::get_if<client_event::ApduReceived>(&e)) owed = apdu->reader;
  });
  client_ptr = &client;
  host_link.emplace(host, *accepted[0]->connection, [](const CloseReason& r) { ADD_FAILURE() << r.message; });
  client_link.emplace(client, *connected[0]->connection, [](const CloseReason& r) { ADD_FAILURE() << r.message; });
  EXPECT_TRUE(client.insert_card(client.add_reader("Later Reader"), kAtr));
  ASSERT_TRUE(run_until([&] { return owed.has_value(); }));
  // The answer, from an idle callback of the main loop.
  struct Later {
    ClientSession* client;
    ReaderHandle reader;
  } later{client_ptr, *owed};
  GSource* idle = g_idle_source_new();
  g_source_set_callback(
      idle,
      [](gpointer data) -> gboolean {
        auto* l = static_cast<Later*>(data);
        EXPECT_TRUE(l->client->send_apdu_response(l->reader, kOk));
        return G_SOURCE_REMOVE;
      },
      &later, nullptr);
  g_source_attach(idle, context_);
  g_source_unref(idle);
  ASSERT_TRUE(run_until([&] { return response.has_value(); }));
  EXPECT_EQ(*response, kOk);
  client_link.reset();
  host_link.reset();
}

TEST_F(SessionLinkTest, HostGoesAwayMidMessage) {
  connect_pair();
  std::vector<std::string> client_events;
  ClientSession client({}, [&](const ClientEvent& e) { client_events.push_back(std::to_string(e.index())); });
  std::optional<CloseReason> closed;
  SessionLink<ClientSession> link(client, *connected[0]->connection, [&](const CloseReason& r) { closed = r; });
  // The host's side, by hand: the header of an Init announcing 16 payload bytes,
  // then 4 of them, then the connection ends.
  const std::uint8_t partial[] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 16, 'V', 'S', 'C', 'D'};
  accepted[0]->connection->write(partial);
  accepted[0]->connection->close_after_flush();
  ASSERT_TRUE(run_until([&] { return closed.has_value(); }));
  EXPECT_EQ(closed->kind, CloseReason::Kind::PeerClosed);
  EXPECT_FALSE(client.host_init_received());  // the half message was never taken as an Init
  EXPECT_TRUE(client_events.empty());
  // The program's answer to a lost host: restart the session for the next connection.
  client.restart();
  EXPECT_FALSE(client.pending_output().empty());  // a fresh Init waits for the next connection
}

TEST_F(SessionLinkTest, SessionThatClosesClosesTheConnection) {
  connect_pair();
  bool session_closed = false;
  ClientSession client({}, [&](const ClientEvent& e) {
    if (std::holds_alternative<client_event::Closed>(e)) session_closed = true;
  });
  std::optional<CloseReason> closed;
  SessionLink<ClientSession> link(client, *connected[0]->connection, [&](const CloseReason& r) { closed = r; });
  accepted[0]->start();
  // A host Init with the wrong magic: the client session gives up (client_session.h).
  const std::uint8_t bad_init[] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 12, 'X', 'X', 'X', 'X', 0, 0, 0, 2, 0, 0, 0, 0};
  accepted[0]->connection->write(bad_init);
  ASSERT_TRUE(run_until([&] { return closed.has_value(); }));
  EXPECT_TRUE(session_closed);
  EXPECT_EQ(closed->kind, CloseReason::Kind::Local);
  // The client's Init still reached the host before the close.
  ASSERT_TRUE(run_until([&] { return accepted[0]->closed.has_value(); }));
  EXPECT_GE(accepted[0]->received.size(), 12u);
  EXPECT_EQ(accepted[0]->received.substr(12, 4), "VSCD");
}

// A stand-in session proves the template needs nothing beyond the five members.
struct CountingSession {
  std::size_t received = 0;
  Vec out{1, 2, 3};
  std::size_t sent = 0;
  std::function<void()> notify;
  void receive(Bytes b) { received += b.size(); }
  Bytes pending_output() const { return Bytes(out).subspan(sent); }
  void consume_output(std::size_t n) { sent += n; }
  bool closed() const { return false; }
  void set_output_notifier(std::function<void()> n) { notify = std::move(n); }
};
static_assert(SansIoSession<CountingSession>);
static_assert(SansIoSession<ClientSession>);
static_assert(SansIoSession<HostSession>);

TEST_F(SessionLinkTest, GenericSession) {
  connect_pair();
  CountingSession session;
  SessionLink<CountingSession> link(session, *connected[0]->connection, nullptr);
  accepted[0]->start();
  ASSERT_TRUE(run_until([&] { return accepted[0]->received.size() == 3; }));
  EXPECT_EQ(session.sent, 3u);
  accepted[0]->write("abcd");
  ASSERT_TRUE(run_until([&] { return session.received == 4; }));
  // More output, announced through the notifier, goes out unasked.
  session.out.insert(session.out.end(), {4, 5});
  ASSERT_TRUE(session.notify);
  session.notify();
  ASSERT_TRUE(run_until([&] { return accepted[0]->received.size() == 5; }));
  EXPECT_EQ(session.sent, 5u);
}

}  // namespace
}  // namespace vscard
