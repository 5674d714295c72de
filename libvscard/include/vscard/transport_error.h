// SPDX-License-Identifier: LGPL-2.1-or-later
// The GError domain of libvscard's transport layer.
//
// Every transport function that can fail takes a GError** and fills it with one
// line a program can print as is ("cannot connect to qemu-host:2001: connection
// refused"). Failures that GIO itself classifies keep GIO's domain and code
// (G_IO_ERROR_ADDRESS_IN_USE, G_IO_ERROR_CONNECTION_REFUSED, G_RESOLVER_ERROR_NOT_FOUND,
// G_IO_ERROR_NOT_FOUND for a missing Unix socket...) with our message prefix; the
// rest use VSCARD_TRANSPORT_ERROR with the codes below.
#pragma once

#include <glib.h>

#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

GQuark transport_error_quark();
#define VSCARD_TRANSPORT_ERROR (::vscard::transport_error_quark())

enum class TransportError : int {
  InvalidAddress = 1,      // address text that is not host:port, [v6]:port or unix:/path
  InvalidKeepalive,        // keepalive text that is not idle,interval,count
  TlsUnavailable,          // no GIO TLS backend (install glib-networking)
  TlsCredentials,          // a credentials file is missing, unreadable or invalid
  TlsUnknownCa,            // the peer's certificate is not signed by ca-cert.pem
  TlsNameMismatch,         // the server certificate does not name the host we dialled
  TlsExpired,              // the peer's certificate has expired (or is not yet valid)
  TlsRevoked,              // the peer's certificate is revoked
  TlsBadCertificate,       // any other certificate verification failure
  TlsNoClientCertificate,  // the listener requires a client certificate, none was sent
  TlsHandshake,            // the TLS handshake failed for another reason
  WriteQueueOverflow,      // the peer stopped reading; see Connection::Options
  TlsNoAnswer,             // a TLS client's hello got no answer in time: the server
                           // probably does not speak TLS (not permanent: it may be slow)
};

// Shorthand for g_set_error_literal(error, VSCARD_TRANSPORT_ERROR, code, message).
void set_transport_error(GError** error, TransportError code, const char* message);

VSCARD_API_END
}  // namespace vscard
