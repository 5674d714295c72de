// SPDX-License-Identifier: LGPL-2.1-or-later
// Connector: the backoff formula, connecting before the listener exists
// (refused, backing off, then connected), reconnect after the peer goes away,
// the backoff after short connections with and without a session, giving up
// after max_attempts, a host that never answers (timeout), and stop().
#include "vscard/connector.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport_fixture.h"
#include "vscard/transport_error.h"

namespace vscard {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, DoublesUpToTheCapWithJitter) {
  Backoff b;  // 0.5 s doubling to 30 s, ±20 %
  EXPECT_EQ(b.delay(0, 0.5), 500ms);
  EXPECT_EQ(b.delay(1, 0.5), 1000ms);
  EXPECT_EQ(b.delay(2, 0.5), 2000ms);
  EXPECT_EQ(b.delay(5, 0.5), 16000ms);
  EXPECT_EQ(b.delay(6, 0.5), 30000ms);
  EXPECT_EQ(b.delay(1000, 0.5), 30000ms);  // no overflow however long it runs
  EXPECT_EQ(b.delay(0, 0.0), 400ms);       // jitter spreads 0.8x ..
  EXPECT_EQ(b.delay(0, 1.0), 600ms);       // .. 1.2x
  EXPECT_EQ(b.delay(1000, 1.0), 36000ms);
  Backoff fixed{100ms, 100ms, 2.0, 0.0};
  EXPECT_EQ(fixed.delay(0, 0.9), 100ms);
  EXPECT_EQ(fixed.delay(7, 0.1), 100ms);
}

class ConnectorTest : public testing::TransportTest {
 protected:
  // The peer accepts `rounds` connections one after the other and drops each
  // at once; the client reconnects after every loss. Returns the delays
  // reconnect() chose. With `session`, the client says every connection
  // carried a session.
  std::vector<std::chrono::milliseconds> delays_after_short_connections(int rounds, bool session);
};

TEST_F(ConnectorTest, ConnectsOnceTheListenerAppears) {
  const std::uint16_t port = testing::free_port();
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", port);
  options.backoff = Backoff{50ms, 200ms, 2.0, 0.0};
  std::vector<std::chrono::milliseconds> delays;
  Connector c(
      options, [&](std::unique_ptr<Connection> conn) { connected.push_back(std::make_unique<testing::Peer>()); connected.back()->connection = std::move(conn); },
      [&](const GError* e, std::optional<std::chrono::milliseconds> retry) {
        failures.emplace_back(e->message);
        ASSERT_TRUE(retry.has_value());
        delays.push_back(*retry);
      });
  c.start();
  EXPECT_TRUE(c.active());
  ASSERT_TRUE(run_until([&] { return failures.size() >= 4; }));
  EXPECT_TRUE(connected.empty());
  EXPECT_NE(failures[0].find("connection refused"), std::string::npos) << failures[0];
  EXPECT_EQ(delays[0], 50ms);
  EXPECT_EQ(delays[1], 100ms);
  EXPECT_EQ(delays[2], 200ms);
  EXPECT_EQ(delays[3], 200ms);  // capped
  auto listener = listen(Address::tcp("127.0.0.1", port));
  ASSERT_TRUE(listener);
  ASSERT_TRUE(run_until([&] { return !connected.empty() && !accepted.empty(); }));
  EXPECT_FALSE(c.active());
}

TEST_F(ConnectorTest, ReconnectsAfterThePeerGoesAway) {
  auto listener = listen(Address::tcp("::1", 0));
  Connector::Options options;
  options.address = Address::tcp("::1", listener->port());
  options.backoff = Backoff{20ms, 100ms, 2.0, 0.5};
  auto c = connector(options);
  c->start();
  ASSERT_TRUE(run_until([&] { return connected.size() == 1 && accepted.size() == 1; }));
  int connections_seen = 1;
  connected[0]->connection->start([](Bytes) {}, [&](const CloseReason& r) {
    EXPECT_EQ(r.kind, CloseReason::Kind::PeerClosed);
    c->reconnect();  // what vscclient does; then ClientSession::restart() on success
  });
  accepted[0]->connection.reset();  // the host drops us
  ASSERT_TRUE(run_until([&] { return connected.size() == 2 && accepted.size() == 2; }));
  ++connections_seen;
  EXPECT_EQ(connections_seen, 2);
  EXPECT_TRUE(failures.empty());
}

std::vector<std::chrono::milliseconds> ConnectorTest::delays_after_short_connections(int rounds,
                                                                                   bool session) {
  auto listener = listen(Address::tcp("127.0.0.1", 0));
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", listener->port());
  options.backoff = Backoff{20ms, 10s, 2.0, 0.0};  // no jitter: exact delays
  options.stable_after = 60s;                       // no connection here lives that long
  auto c = connector(options);
  std::vector<std::chrono::milliseconds> delays;
  c->start();
  for (int round = 0; round < rounds; ++round) {
    const std::size_t n = static_cast<std::size_t>(round) + 1;
    if (!run_until([&] { return connected.size() == n && accepted.size() == n; })) break;
    if (session) c->session_established();
    connected.back()->connection->start([](Bytes) {}, [&](const CloseReason&) {
      delays.push_back(c->reconnect());
    });
    accepted.back()->connection.reset();  // the host drops us
    if (!run_until([&] { return delays.size() == n; })) break;
  }
  return delays;
}

TEST_F(ConnectorTest, ShortConnectionsWithoutASessionKeepTheBackoffGrowing) {
  // A peer that accepts and drops us before any session: flapping protection.
  EXPECT_EQ(delays_after_short_connections(4, false),
            (std::vector<std::chrono::milliseconds>{20ms, 40ms, 80ms, 160ms}));
}

TEST_F(ConnectorTest, ASessionResetsTheBackoffHoweverShort) {
  // Many short healthy sessions (vschost --once in CI): each loss retries
  // after the initial delay, where the time rule alone (stable_after) doubled it.
  EXPECT_EQ(delays_after_short_connections(4, true),
            (std::vector<std::chrono::milliseconds>{20ms, 20ms, 20ms, 20ms}));
}

TEST_F(ConnectorTest, GivesUpAfterMaxAttempts) {
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", testing::free_port());
  options.backoff = Backoff{10ms, 10ms, 2.0, 0.0};
  options.max_attempts = 3;
  auto c = connector(options);
  c->start();
  ASSERT_TRUE(run_until([&] { return gave_up; }));
  EXPECT_EQ(failures.size(), 3u);
  EXPECT_FALSE(c->active());
  run_for(100ms);
  EXPECT_EQ(failures.size(), 3u);
}

TEST_F(ConnectorTest, StopCancelsRetries) {
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", testing::free_port());
  options.backoff = Backoff{10ms, 10ms, 2.0, 0.0};
  auto c = connector(options);
  c->start();
  ASSERT_TRUE(run_until([&] { return !failures.empty(); }));
  c->stop();
  const auto seen = failures.size();
  run_for(100ms);
  EXPECT_EQ(failures.size(), seen);
  EXPECT_FALSE(c->active());
}

TEST_F(ConnectorTest, DestroyedWhileConnecting) {
  auto listener = listen(Address::tcp("127.0.0.1", 0));
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", listener->port());
  auto c = connector(options);
  c->start();
  c.reset();  // the pending connect completes (cancelled) after the Connector is gone
  run_for(100ms);
  EXPECT_TRUE(connected.empty());
}

// A listener whose accept queue is full drops further SYNs (Linux
// tcp_conn_request): the connect hangs in SYN_SENT until the attempt's timeout.
TEST_F(ConnectorTest, TimesOutWhenTheHostNeverAnswers) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<int> fillers;  // never accepted: they fill the queue
  for (int i = 0; i < 3; ++i) {
    fillers.push_back(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    connect(fillers.back(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", ntohs(addr.sin_port));
  options.timeout = 1s;
  options.max_attempts = 1;
  auto c = connector(options);
  c->start();
  ASSERT_TRUE(run_until([&] { return gave_up; }, 5s));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failure_codes[0], std::make_pair(G_IO_ERROR, static_cast<int>(G_IO_ERROR_TIMED_OUT)));
  EXPECT_NE(failures[0].find("cannot connect to 127.0.0.1:"), std::string::npos) << failures[0];
  EXPECT_NE(failures[0].find("timed out"), std::string::npos) << failures[0];
  EXPECT_TRUE(connected.empty());
  for (int fd : fillers) close(fd);
  close(listener);
}

TEST_F(ConnectorTest, PortZeroIsRefused) {
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", 0);
  auto c = connector(options);
  c->start();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(gave_up);
  EXPECT_EQ(failures[0], "cannot connect to 127.0.0.1:0: port 0 is not a port to connect to");
}

TEST(TransportError, PermanentErrors) {
  GError* e = g_error_new_literal(VSCARD_TRANSPORT_ERROR, static_cast<int>(TransportError::TlsUnknownCa), "x");
  EXPECT_TRUE(transport_error_is_permanent(e));
  g_error_free(e);
  e = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "x");
  EXPECT_FALSE(transport_error_is_permanent(e));
  g_error_free(e);
  e = g_error_new_literal(VSCARD_TRANSPORT_ERROR, static_cast<int>(TransportError::TlsHandshake), "x");
  EXPECT_FALSE(transport_error_is_permanent(e));
  g_error_free(e);
}

}  // namespace
}  // namespace vscard
