// SPDX-License-Identifier: LGPL-2.1-or-later
// Connection, Listener and Connector over real loopback sockets: TCP over IPv4
// and IPv6, Unix sockets, the error messages, back-pressure, peer close, socket
// options (read back with getsockopt) and reconnect with backoff.
#include "vscard/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "transport_fixture.h"
#include "vscard/transport_error.h"

namespace vscard {
namespace {

using namespace std::chrono_literals;
using testing::Peer;

class ConnectionTest : public testing::TransportTest {
 protected:
  // Client and server exchange data both ways over `listen_at`/`connect_to`.
  void exchange(const Address& listen_at, std::function<Address(const Listener&)> connect_to) {
    auto listener = listen(listen_at);
    ASSERT_TRUE(listener);
    Connector::Options options;
    options.address = connect_to(*listener);
    auto c = connector(options);
    c->start();
    ASSERT_TRUE(run_until([&] { return !connected.empty() && !accepted.empty(); })) << failures.size();
    accepted[0]->start(/*echo=*/true);
    connected[0]->start();
    EXPECT_TRUE(connected[0]->write("hello "));
    EXPECT_TRUE(connected[0]->write("vscard"));
    ASSERT_TRUE(run_until([&] { return connected[0]->received == "hello vscard"; }));
    // Orderly close from the client: the server sees the end of the stream.
    connected[0]->connection->close_after_flush();
    ASSERT_TRUE(run_until([&] { return accepted[0]->closed.has_value(); }));
    EXPECT_EQ(accepted[0]->closed->kind, CloseReason::Kind::PeerClosed);
    EXPECT_EQ(accepted[0]->closed->message, "peer closed the connection");
    ASSERT_TRUE(run_until([&] { return connected[0]->closed.has_value(); }));
    EXPECT_EQ(connected[0]->closed->kind, CloseReason::Kind::Local);
  }
};

TEST_F(ConnectionTest, TcpIpv4) {
  exchange(Address::tcp("127.0.0.1", 0), [](const Listener& l) {
    EXPECT_EQ(l.local_addresses().at(0).host, "127.0.0.1");
    return Address::tcp("127.0.0.1", l.port());
  });
  EXPECT_NE(accepted[0]->connection->peer().find("127.0.0.1:"), std::string::npos);
}

TEST_F(ConnectionTest, TcpIpv6) {
  exchange(Address::tcp("::1", 0), [](const Listener& l) { return Address::tcp("::1", l.port()); });
  EXPECT_EQ(connected[0]->connection->peer().rfind("[::1]:", 0), 0u) << connected[0]->connection->peer();
}

TEST_F(ConnectionTest, TcpByNameFromParsedText) {
  GErrorPtr error;
  auto address = Address::parse("localhost:0", error.out());
  ASSERT_TRUE(address) << error.message();
  exchange(*address, [](const Listener& l) { return Address::tcp("localhost", l.port()); });
}

TEST_F(ConnectionTest, Unix) {
  gchar* dir = g_dir_make_tmp("vscard-test-XXXXXX", nullptr);
  ASSERT_NE(dir, nullptr);
  const std::string path = std::string(dir) + "/host.sock";
  exchange(Address::unix_path(path), [&](const Listener&) { return Address::unix_path(path); });
  EXPECT_EQ(accepted[0]->connection->peer(), "unix:" + path);
  accepted.clear();
  connected.clear();
  // The listener removed its socket file when it went away.
  EXPECT_FALSE(g_file_test(path.c_str(), G_FILE_TEST_EXISTS));
  g_rmdir(dir);
  g_free(dir);
}

TEST_F(ConnectionTest, UnixStaleSocketIsReplacedLiveOneIsInUse) {
  gchar* dir = g_dir_make_tmp("vscard-test-XXXXXX", nullptr);
  const std::string path = std::string(dir) + "/host.sock";
  {
    // A socket file nobody listens on any more (a crashed vschost).
    GObjectPtr<GSocket> s(g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, nullptr));
    GObjectPtr<GSocketAddress> a(g_unix_socket_address_new(path.c_str()));
    ASSERT_TRUE(g_socket_bind(s.get(), a.get(), FALSE, nullptr));
  }
  ASSERT_TRUE(g_file_test(path.c_str(), G_FILE_TEST_EXISTS));
  auto first = listen(Address::unix_path(path));
  ASSERT_TRUE(first);
  GErrorPtr error;
  auto second = Listener::create(Address::unix_path(path), {}, [](auto) {}, nullptr, error.out());
  EXPECT_FALSE(second);
  EXPECT_TRUE(g_error_matches(error.get(), G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE));
  EXPECT_EQ(std::string(error.message()),
            "cannot listen on unix:" + path + ": address already in use (another program is listening there)");
  first.reset();
  g_rmdir(dir);
  g_free(dir);
}

TEST_F(ConnectionTest, AddressInUse) {
  auto first = listen(Address::tcp("127.0.0.1", 0));
  ASSERT_TRUE(first);
  GErrorPtr error;
  const Address again = Address::tcp("127.0.0.1", first->port());
  auto second = Listener::create(again, {}, [](auto) {}, nullptr, error.out());
  EXPECT_FALSE(second);
  EXPECT_TRUE(g_error_matches(error.get(), G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE));
  EXPECT_EQ(std::string(error.message()), "cannot listen on " + again.to_string() +
                                              ": address already in use (another program is listening there)");
}

TEST_F(ConnectionTest, ConnectionRefused) {
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", testing::free_port());
  options.max_attempts = 1;
  auto c = connector(options);
  c->start();
  ASSERT_TRUE(run_until([&] { return gave_up; }));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0], "cannot connect to " + options.address.to_string() +
                             ": connection refused (is vschost or QEMU listening there?)");
  EXPECT_EQ(failure_codes[0], std::make_pair(G_IO_ERROR, static_cast<int>(G_IO_ERROR_CONNECTION_REFUSED)));
  EXPECT_TRUE(connected.empty());
}

TEST_F(ConnectionTest, UnknownHost) {
  Connector::Options options;
  // RFC 2606 reserves .invalid: it never resolves.
  options.address = Address::tcp("no-such-host.invalid", 2001);
  options.max_attempts = 1;
  auto c = connector(options);
  c->start();
  ASSERT_TRUE(run_until([&] { return gave_up; }));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].rfind("cannot connect to no-such-host.invalid:2001: unknown host (", 0), 0u) << failures[0];
  // Said once, not again inside the parentheses.
  EXPECT_EQ(failures[0].find("cannot connect to", 1), std::string::npos) << failures[0];
  EXPECT_EQ(failure_codes[0].first, G_RESOLVER_ERROR);

  GErrorPtr error;
  EXPECT_FALSE(Listener::create(Address::tcp("no-such-host.invalid", 0), {}, [](auto) {}, nullptr, error.out()));
  EXPECT_EQ(std::string(error.message()).rfind("cannot listen on no-such-host.invalid:0: unknown host (", 0), 0u)
      << error.message();
}

TEST_F(ConnectionTest, MissingUnixSocket) {
  Connector::Options options;
  options.address = Address::unix_path("/nonexistent/vscard.sock");
  options.max_attempts = 1;
  auto c = connector(options);
  c->start();
  ASSERT_TRUE(run_until([&] { return gave_up; }));
  EXPECT_EQ(failures.at(0), "cannot connect to unix:/nonexistent/vscard.sock: no such socket file");
}

TEST_F(ConnectionTest, PeerClosesMidMessage) {
  auto listener = listen(Address::tcp("127.0.0.1", 0));
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", listener->port());
  auto c = connector(options);
  c->start();
  ASSERT_TRUE(run_until([&] { return !connected.empty() && !accepted.empty(); }));
  connected[0]->start();
  // A VSCard header announcing 100 payload bytes, then only 3 of them.
  const std::uint8_t partial[] = {0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 100, 0xA0, 0xA4, 0x00};
  accepted[0]->connection->write(partial);
  accepted[0]->connection->close_after_flush();
  ASSERT_TRUE(run_until([&] { return connected[0]->closed.has_value(); }));
  EXPECT_EQ(connected[0]->received.size(), sizeof partial);
  EXPECT_EQ(connected[0]->closed->kind, CloseReason::Kind::PeerClosed);
  EXPECT_FALSE(connected[0]->connection->is_open());
  EXPECT_FALSE(connected[0]->write("x"));
}

TEST_F(ConnectionTest, WriteQueueOverflowAgainstPeerThatNeverReads) {
  auto listener = listen(Address::tcp("127.0.0.1", 0));
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", listener->port());
  auto c = connector(options);
  c->start();
  ASSERT_TRUE(run_until([&] { return !connected.empty() && !accepted.empty(); }));
  // The accepted side is never started: it never reads.
  Peer& client = *connected[0];
  client.start();
  EXPECT_EQ(client.connection->queued_bytes(), 0u);
  const std::vector<std::uint8_t> chunk(64 * 1024, 0x5A);
  std::size_t written = 0;
  bool refused = false;
  // Keep writing while letting the loop run: the kernel buffers fill up, then
  // our queue does, then the connection gives up. 1 GiB would mean no limit.
  while (!refused && written < (1u << 30)) {
    if (client.connection->write(chunk)) written += chunk.size();
    else refused = true;
    while (g_main_context_iteration(context_, FALSE)) {
    }
  }
  ASSERT_TRUE(refused);
  EXPECT_FALSE(client.connection->is_open());
  ASSERT_TRUE(run_until([&] { return client.closed.has_value(); }));
  EXPECT_EQ(client.closed->kind, CloseReason::Kind::WriteQueueOverflow);
  EXPECT_NE(client.closed->message.find("write queue overflow"), std::string::npos) << client.closed->message;
  EXPECT_NE(client.closed->message.find("limit 1048576"), std::string::npos) << client.closed->message;
  EXPECT_NE(client.closed->message.find("the peer is not reading"), std::string::npos);
}

int get_int_option(GSocket* socket, int level, int name) {
  int value = -1;
  socklen_t size = sizeof value;
  EXPECT_EQ(getsockopt(g_socket_get_fd(socket), level, name, &value, &size), 0);
  return value;
}

TEST_F(ConnectionTest, NoDelayAndKeepaliveAreSet) {
  Listener::Options server_options;
  GErrorPtr error;
  server_options.connection.keepalive = Keepalive::parse("30,7,3", error.out());
  auto listener = listen(Address::tcp("::1", 0), server_options);
  Connector::Options options;
  options.address = Address::tcp("::1", listener->port());
  options.connection.keepalive = Keepalive::parse("5,2,4", error.out());
  auto c = connector(options);
  c->start();
  ASSERT_TRUE(run_until([&] { return !connected.empty() && !accepted.empty(); }));
  GSocket* client = connected[0]->connection->socket();
  EXPECT_EQ(get_int_option(client, IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(get_int_option(client, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(get_int_option(client, IPPROTO_TCP, TCP_KEEPIDLE), 5);
  EXPECT_EQ(get_int_option(client, IPPROTO_TCP, TCP_KEEPINTVL), 2);
  EXPECT_EQ(get_int_option(client, IPPROTO_TCP, TCP_KEEPCNT), 4);
  GSocket* server = accepted[0]->connection->socket();
  EXPECT_EQ(get_int_option(server, IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(get_int_option(server, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(get_int_option(server, IPPROTO_TCP, TCP_KEEPIDLE), 30);
  EXPECT_EQ(get_int_option(server, IPPROTO_TCP, TCP_KEEPINTVL), 7);
  EXPECT_EQ(get_int_option(server, IPPROTO_TCP, TCP_KEEPCNT), 3);
}

TEST_F(ConnectionTest, NoKeepaliveUnlessAsked) {
  auto listener = listen(Address::tcp("127.0.0.1", 0));
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", listener->port());
  auto c = connector(options);
  c->start();
  ASSERT_TRUE(run_until([&] { return !connected.empty(); }));
  EXPECT_EQ(get_int_option(connected[0]->connection->socket(), IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(get_int_option(connected[0]->connection->socket(), SOL_SOCKET, SO_KEEPALIVE), 0);
}

TEST_F(ConnectionTest, DestroyingInsideHandlersIsSafe) {
  auto listener = listen(Address::tcp("127.0.0.1", 0));
  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", listener->port());
  auto c = connector(options);
  c->start();
  ASSERT_TRUE(run_until([&] { return !connected.empty() && !accepted.empty(); }));
  bool got = false;
  connected[0]->connection->start([&](Bytes) { got = true; connected[0]->connection.reset(); },
                                  [](const CloseReason&) { ADD_FAILURE() << "no close after destruction"; });
  accepted[0]->start();
  accepted[0]->write("boom");
  ASSERT_TRUE(run_until([&] { return got; }));
  // The server sees the close.
  ASSERT_TRUE(run_until([&] { return accepted[0]->closed.has_value(); }));
  EXPECT_EQ(accepted[0]->closed->kind, CloseReason::Kind::PeerClosed);
}

}  // namespace
}  // namespace vscard
