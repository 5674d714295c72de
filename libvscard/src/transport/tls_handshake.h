// SPDX-License-Identifier: LGPL-2.1-or-later
// Internal: runs a TLS handshake on a connected stream, turning the verdict
// into one line that names the failing check. The client side wraps the
// stream in GTlsConnection (glib-networking); the server side drives GnuTLS
// on the main context (tls_server_handshake.cc, gnutls_stream.h), so peers
// that stall mid-handshake hold no thread.
#pragma once

#include <gio/gio.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "vscard/glib_ptr.h"
#include "vscard/tls.h"

namespace vscard::transport {

// A plaintext VSCard host (QEMU's passthru chardev without tls-creds, vschost
// without --tls-creds) reads a TLS ClientHello as a VSCard header whose length
// field (the hello's version and random bytes) asks for megabytes more, and
// waits: it never sends a byte. A client handshake that has received no byte
// at all this long after its hello ends as TransportError::TlsNoAnswer, well
// before the attempt timeout (docs/tls.md). A slow TLS host that has sent
// anything keeps the whole timeout.
inline constexpr std::chrono::seconds kTlsHelloAnswerBound{5};

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
  void cancel() {
    if (auto abandon = std::exchange(cancel_, nullptr)) abandon();
  }

  explicit TlsHandshake(std::function<void()> cancel) : cancel_(std::move(cancel)) {}

 private:
  std::function<void()> cancel_;
};

}  // namespace vscard::transport
