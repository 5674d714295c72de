// SPDX-License-Identifier: LGPL-2.1-or-later
// Internal helpers of the transport layer: socket options, names of socket
// addresses, one-line error messages.
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <optional>
#include <string>

#include "vscard/keepalive.h"

namespace vscard::transport {

// What a client is told when the server demanded a certificate it did not send.
inline constexpr const char* kClientCertificateRequired =
    "the server requires a client certificate (mutual TLS): put client-cert.pem and "
    "client-key.pem, signed by the server's CA, into the TLS credentials directory";

// The GSocket under a GSocketConnection or a GTlsConnection over one; null otherwise.
GSocket* socket_of(GIOStream* stream);

// "127.0.0.1:2001", "[::1]:2001", "unix:/path" ("unix:" for an unnamed socket).
std::string describe(GSocketAddress* address);
// The peer of a connected stream; for an accepted Unix connection (unnamed
// peer) the local path.
std::string describe_peer(GIOStream* stream);

// Whether the peer of a TCP socket has sent any data so far (TCP_INFO; a FIN
// or a reset alone is not data), or nullopt where the system does not say (a
// Unix socket, an old kernel).
std::optional<bool> tcp_peer_sent_data(GSocket* socket);

// TCP_NODELAY and, if given, SO_KEEPALIVE + TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT.
// Does nothing for a non-TCP socket.

bool apply_tcp_options(GSocket* socket, const std::optional<Keepalive>& keepalive, GError** error);

// Moves `source` into `dest` keeping its domain and code, with the message
// replaced by "<prefix>: <text>" (text: `source`'s message unless given).
void propagate_prefixed(GError** dest, GError* source, const std::string& prefix,
                        const char* text = nullptr);

// A one-line reason for a GIO connect/bind/read failure, lower-case, with what
// to do where the code says enough ("connection refused (is vschost or QEMU
// listening there?)"); `fallback` otherwise.
std::string explain_io_error(const GError* error);

}  // namespace vscard::transport
