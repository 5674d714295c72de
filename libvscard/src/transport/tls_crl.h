// SPDX-License-Identifier: LGPL-2.1-or-later
// Internal: certificate revocation lists in QEMU's layout (ca-crl.pem beside
// ca-cert.pem, crypto/tlscredsx509.c). GIO's TLS API cannot apply a CRL, so the
// check is ours, with GnuTLS (the library glib-networking already uses).
#pragma once

#include <gio/gio.h>
#include <gnutls/gnutls.h>

#include <optional>
#include <string>

namespace vscard::transport {

// At load time: `crl_path` holds one or more PEM CRLs, each signed by a CA of
// `ca_path`. Otherwise false and `error` (TlsCredentials) names the file.
bool check_crl_file(const std::string& crl_path, const std::string& ca_path, GError** error);

// After a handshake: the peer's certificate's serial number (hex) if a CRL in
// `crl_path` revokes it; nullopt if not revoked (or no certificate).
std::optional<std::string> revoked_serial(GTlsCertificate* peer, const std::string& crl_path);
// The same for a certificate in DER (GnuTLS's gnutls_certificate_get_peers).
std::optional<std::string> revoked_serial_der(const gnutls_datum_t& peer, const std::string& crl_path);

}  // namespace vscard::transport
