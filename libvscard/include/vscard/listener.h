// SPDX-License-Identifier: LGPL-2.1-or-later
// Listener: accepts connections on an Address (TCP over IPv4/IPv6, or a Unix
// socket), optionally wrapping each in TLS, on the thread-default GMainContext.
//
//   vscard::GErrorPtr error;
//   auto listener = vscard::Listener::create(*address, {}, on_accept, on_reject, error.out());
//   if (!listener) { g_printerr("vschost: %s\n", error.message()); return 1; }
#pragma once

#include <gio/gio.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vscard/address.h"
#include "vscard/connection.h"
#include "vscard/tls.h"
#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

class Listener {
 public:
  struct Options {
    Connection::Options connection;
    std::optional<TlsServerOptions> tls;  // nullopt: plaintext
    // Connections the kernel queues before accept(): 16 lost about three in
    // four of a burst of 100 (measured with vscclient --vicc's card programs).
    int backlog = 128;
    // A TLS client has this long from connecting to finishing its handshake;
    // until its first record (the ClientHello) is complete it holds no thread.
    std::chrono::seconds handshake_timeout{10};
    // Asked for every new connection, before its TLS handshake, with its peer
    // (as Connection::peer()) and the number of handshakes in progress: false
    // closes it at once, silently (the program says why), so a program's
    // client limit counts handshakes too. Unset: all admitted.
    std::function<bool(const std::string& peer, std::size_t handshakes_in_progress)> admit;
  };
  // A new connection (TLS handshake done when TLS is on). Not started yet:
  // call start() (or bind it with a SessionLink).
  using AcceptHandler = std::function<void(std::unique_ptr<Connection> connection)>;
  // A client was turned away (its TLS handshake failed: unknown CA, no client
  // certificate...) or accept() failed. `peer` as in Connection::peer().
  using RejectHandler = std::function<void(const std::string& peer, const GError* error)>;

  // Binds and listens. Errors (one line, prefixed "cannot listen on ADDRESS: "):
  // G_IO_ERROR_ADDRESS_IN_USE, G_RESOLVER_ERROR_NOT_FOUND for an unknown host,
  // G_IO_ERROR_* for a bad Unix path. A stale Unix socket file is replaced (as QEMU does).
  static std::unique_ptr<Listener> create(const Address& address, Options options,
                                          AcceptHandler on_accept, RejectHandler on_reject,
                                          GError** error);
  // Stops listening; removes the Unix socket file it created.
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // The bound addresses, with the kernel-chosen port when the address had port 0.
  const std::vector<Address>& local_addresses() const;
  // The bound port (TCP), 0 for Unix.
  std::uint16_t port() const;

 private:
  // Made by create() only; the state is libvscard's.
  Listener() = default;
  struct VSCARD_HIDDEN Impl;
  std::shared_ptr<Impl> impl_;
};

VSCARD_API_END
}  // namespace vscard
