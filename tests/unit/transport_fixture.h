// SPDX-License-Identifier: LGPL-2.1-or-later
// Helpers for transport tests: a loop fixture plus a listener that collects
// accepted connections and a connector that collects results.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "main_loop_fixture.h"
#include "vscard/connector.h"
#include "vscard/glib_ptr.h"
#include "vscard/listener.h"

namespace vscard::testing {

// What one Connection saw.
struct Peer {
  std::unique_ptr<Connection> connection;
  std::string received;
  std::optional<CloseReason> closed;

  // Starts reading; `echo` writes back whatever arrives.
  void start(bool echo = false) {
    connection->start(
        [this, echo](Bytes data) {
          received.append(reinterpret_cast<const char*>(data.data()), data.size());
          if (echo) connection->write(data);
        },
        [this](const CloseReason& reason) { closed = reason; });
  }
  bool write(std::string_view text) {
    return connection->write(Bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }
};

class TransportTest : public MainLoopTest {
 protected:
  // Listens on `address`; accepted connections go to `accepted` (not started),
  // rejected clients to `rejected`.
  std::unique_ptr<Listener> listen(const Address& address, Listener::Options options = {}) {
    GErrorPtr error;
    auto listener = Listener::create(
        address, std::move(options),
        [this](std::unique_ptr<Connection> c) {
          accepted.push_back(std::make_unique<Peer>());
          accepted.back()->connection = std::move(c);
        },
        [this](const std::string&, const GError* e) { rejected.emplace_back(e->message); }, error.out());
    EXPECT_TRUE(listener) << error.message();
    return listener;
  }

  std::unique_ptr<Connector> connector(Connector::Options options) {
    return std::make_unique<Connector>(
        std::move(options),
        [this](std::unique_ptr<Connection> c) {
          connected.push_back(std::make_unique<Peer>());
          connected.back()->connection = std::move(c);
        },
        [this](const GError* e, std::optional<std::chrono::milliseconds> retry) {
          failures.emplace_back(e->message);
          failure_codes.emplace_back(e->domain, e->code);
          gave_up = !retry.has_value();
        });
  }

  std::vector<std::unique_ptr<Peer>> accepted;
  std::vector<std::string> rejected;
  std::vector<std::unique_ptr<Peer>> connected;
  std::vector<std::string> failures;
  std::vector<std::pair<GQuark, int>> failure_codes;
  bool gave_up = false;
};

// A TCP port that was free a moment ago (bound to port 0, then released).
inline std::uint16_t free_port(const char* host = "127.0.0.1") {
  GObjectPtr<GSocket> socket(g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_DEFAULT, nullptr));
  GObjectPtr<GInetAddress> inet(g_inet_address_new_from_string(host));
  GObjectPtr<GSocketAddress> any(g_inet_socket_address_new(inet.get(), 0));
  g_socket_bind(socket.get(), any.get(), TRUE, nullptr);
  GObjectPtr<GSocketAddress> bound(g_socket_get_local_address(socket.get(), nullptr));
  return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound.get()));
}

}  // namespace vscard::testing
