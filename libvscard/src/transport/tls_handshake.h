// SPDX-License-Identifier: LGPL-2.1-or-later
// Internal: wraps a connected stream in GTlsConnection and runs the handshake,
// turning GIO's verdict into one line that names the failing check.
#pragma once

#include <gio/gio.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "vscard/glib_ptr.h"
#include "vscard/tls.h"

namespace vscard::transport {

class TlsHandshake {
 public:
  // `stream` is the TLS connection on success (null on failure); `error` is
  // set on failure (VSCARD_TRANSPORT_ERROR, one of the Tls* codes).
  using Done = std::function<void(GObjectPtr<GIOStream> stream, GErrorPtr error)>;

  // Client side: verifies the server against the CA and `server_name`.
  // `server_name` and `port` form the identity checked in the server certificate.
  static std::shared_ptr<TlsHandshake> client(GIOStream* base, const TlsClientOptions& options,
                                              const std::string& server_name, std::uint16_t port,
                                              const std::string& peer, std::chrono::seconds timeout,
                                              Done done);
  // Server side: asks for (and requires) a client certificate if verify_peer.
  static std::shared_ptr<TlsHandshake> server(GIOStream* base, const TlsServerOptions& options,
                                              const std::string& peer, std::chrono::seconds timeout,
                                              Done done);

  // Abandons the handshake; `done` is not called.
  void cancel();

  struct State;
  explicit TlsHandshake(std::shared_ptr<State> state) : state_(std::move(state)) {}
  ~TlsHandshake();

 private:
  std::shared_ptr<State> state_;
};

}  // namespace vscard::transport
