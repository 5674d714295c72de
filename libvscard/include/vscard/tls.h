// SPDX-License-Identifier: LGPL-2.1-or-later
// X.509 TLS credentials, read from a directory laid out like QEMU's
// `-object tls-creds-x509,dir=DIR` (crypto/tlscredsx509.c, docs/system/tls.rst):
//
//   file             client (Connector)   server (Listener)
//   ca-cert.pem      required             required
//   client-cert.pem  optional (with key)  -
//   client-key.pem   optional (with cert) -
//   server-cert.pem  -                    required
//   server-key.pem   -                    required
//   ca-crl.pem       optional             optional
//   dh-params.pem    -                    ignored (GnuTLS picks its own groups)
//
// The same directory therefore works for QEMU and for vscard. A Connector uses
// GIO's TLS backend (glib-networking); a Listener drives GnuTLS itself on the
// main loop, so peers stalling mid-handshake hold no thread (docs/security.md).
// There is never a fallback to plaintext.
// GIO's TLS API cannot apply a CRL: when ca-crl.pem is there, it must parse and
// be signed by the CA, and every handshake then checks the peer's certificate
// against it with GnuTLS, refusing a revoked one with a message naming the
// file. See docs/tls.md.
#pragma once

#include <gio/gio.h>

#include <memory>
#include <string>

#include "vscard/glib_ptr.h"
#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

// True if GIO has a TLS backend. Otherwise false and `error` (TlsUnavailable)
// says to install glib-networking.
bool tls_available(GError** error);

class TlsCredentials {
 public:
  enum class Endpoint { Client, Server };

  // Loads the files of `dir` for `endpoint`. On failure returns nullptr and sets
  // `error` (TlsCredentials or TlsUnavailable) to a line naming the file:
  // "TLS credentials: /etc/vscard/tls/ca-cert.pem: No such file or directory".
  static std::shared_ptr<const TlsCredentials> load(const std::string& dir, Endpoint endpoint,
                                                    GError** error);

  Endpoint endpoint() const { return endpoint_; }
  const std::string& dir() const { return dir_; }
  // Our certificate + key (server-cert.pem or client-cert.pem); may be null for a client.
  GTlsCertificate* certificate() const { return certificate_.get(); }
  // Trust anchors from ca-cert.pem.
  GTlsDatabase* database() const { return database_.get(); }

  TlsCredentials(Endpoint endpoint, std::string dir, GObjectPtr<GTlsCertificate> certificate,
                 GObjectPtr<GTlsDatabase> database);

 private:
  Endpoint endpoint_;
  std::string dir_;
  GObjectPtr<GTlsCertificate> certificate_;
  GObjectPtr<GTlsDatabase> database_;
};

// TLS settings of a Connector (client side).
struct TlsClientOptions {
  std::shared_ptr<const TlsCredentials> credentials;  // Endpoint::Client
  // The name the server certificate must carry; empty: the host we connect to
  // (vscclient's --tls-hostname). Needed when connecting by an address the
  // certificate does not list, or over a Unix socket.
  std::string hostname;
};

// TLS settings of a Listener (server side).
struct TlsServerOptions {
  std::shared_ptr<const TlsCredentials> credentials;  // Endpoint::Server
  // Require and verify a client certificate signed by ca-cert.pem (mutual TLS),
  // like QEMU's tls-creds-x509 verify-peer=on, which is QEMU's default too.
  bool verify_peer = true;
};

VSCARD_API_END
}  // namespace vscard
