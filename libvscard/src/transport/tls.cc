// SPDX-License-Identifier: LGPL-2.1-or-later
// Loading QEMU-layout x509 credentials (see vscard/tls.h).
#define G_LOG_DOMAIN "vscard"
#include "vscard/tls.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transport/gnutls_lib.h"
#include "transport/tls_crl.h"
#include "vscard/transport_error.h"

namespace vscard {
namespace {

// File names of QEMU's tls-creds-x509 (crypto/tlscredsx509.h, QCRYPTO_TLS_CREDS_X509_*).
constexpr const char* kCaCert = "ca-cert.pem";
constexpr const char* kCaCrl = "ca-crl.pem";
constexpr const char* kServerCert = "server-cert.pem";
constexpr const char* kServerKey = "server-key.pem";
constexpr const char* kClientCert = "client-cert.pem";
constexpr const char* kClientKey = "client-key.pem";

std::string path_in(const std::string& dir, const char* name) {
  gchar* joined = g_build_filename(dir.c_str(), name, nullptr);
  std::string path(joined);
  g_free(joined);
  return path;
}

bool exists(const std::string& path) { return g_file_test(path.c_str(), G_FILE_TEST_EXISTS); }

void credentials_error(GError** error, const std::string& path, const char* what) {
  g_set_error(error, VSCARD_TRANSPORT_ERROR, static_cast<int>(TransportError::TlsCredentials),
              "TLS credentials: %s: %s", path.c_str(), what);
}

// A readable file, or an error naming it (access(2) tells "No such file" from
// "Permission denied").
bool check_readable(const std::string& path, GError** error) {
  if (access(path.c_str(), R_OK) == 0) return true;
  credentials_error(error, path, g_strerror(errno));
  return false;
}

GObjectPtr<GTlsDatabase> load_ca(const std::string& path, GError** error) {
  if (!check_readable(path, error)) return nullptr;
  GError* local = nullptr;
  GList* list = g_tls_certificate_list_new_from_file(path.c_str(), &local);
  if (local != nullptr) {
    credentials_error(error, path, local->message);
    g_error_free(local);
    return nullptr;
  }
  const bool empty = list == nullptr;
  g_list_free_full(list, g_object_unref);
  if (empty) {
    credentials_error(error, path, "contains no PEM certificate");
    return nullptr;
  }
  // GTlsFileDatabase wants an absolute anchor path: glib-networking warns about
  // a relative one and then trusts nothing (every peer is an "unknown CA").
  // Users give --tls-creds relative to their working directory, as with QEMU.
  g_autofree char* absolute = g_canonicalize_filename(path.c_str(), nullptr);
  GObjectPtr<GTlsDatabase> database(g_tls_file_database_new(absolute, &local));
  if (!database) {
    credentials_error(error, path, local->message);
    g_error_free(local);
  }
  return database;
}

GObjectPtr<GTlsCertificate> load_pair(const std::string& cert, const std::string& key, GError** error) {
  if (!check_readable(cert, error) || !check_readable(key, error)) return nullptr;
  GError* local = nullptr;
  GObjectPtr<GTlsCertificate> certificate(
      g_tls_certificate_new_from_files(cert.c_str(), key.c_str(), &local));
  if (!certificate) {
    g_set_error(error, VSCARD_TRANSPORT_ERROR, static_cast<int>(TransportError::TlsCredentials),
                "TLS credentials: %s + %s: %s", cert.c_str(), key.c_str(), local->message);
    g_error_free(local);
  }
  return certificate;
}

}  // namespace

bool tls_available(GError** error) {
  if (g_tls_backend_supports_tls(g_tls_backend_get_default())) return true;
  set_transport_error(error, TransportError::TlsUnavailable,
                      "TLS is not available: GIO has no TLS backend (install glib-networking)");
  return false;
}

TlsCredentials::TlsCredentials(Endpoint endpoint, std::string dir, GObjectPtr<GTlsCertificate> certificate,
                               GObjectPtr<GTlsDatabase> database)
    : endpoint_(endpoint), dir_(std::move(dir)), certificate_(std::move(certificate)),
      database_(std::move(database)) {}

std::shared_ptr<const TlsCredentials> TlsCredentials::load(const std::string& dir, Endpoint endpoint,
                                                           GError** error) {
  if (!tls_available(error)) return nullptr;
  if (!g_file_test(dir.c_str(), G_FILE_TEST_IS_DIR)) {
    credentials_error(error, dir, exists(dir) ? "not a directory" : "no such directory");
    return nullptr;
  }
  auto database = load_ca(path_in(dir, kCaCert), error);
  if (!database) return nullptr;
  // GIO's TLS API cannot apply a CRL: the handshake checks the peer against it
  // (transport/tls_crl.h); here the file must parse and be signed by the CA.
  if (const std::string crl = path_in(dir, kCaCrl);
      exists(crl) && !transport::check_crl_file(crl, path_in(dir, kCaCert), error)) {
    return nullptr;
  }

  GObjectPtr<GTlsCertificate> certificate;
  if (endpoint == Endpoint::Server) {
    // The listener's handshakes run on GnuTLS, opened at first use
    // (transport/gnutls_lib.h): said now, not at each client's handshake.
    if (transport::gnutls_lib() == nullptr) {
      set_transport_error(error, TransportError::TlsUnavailable,
                          (std::string("TLS is not available: ") + transport::kGnutlsMissing +
                           " (the TLS listener runs its handshakes on it; install libgnutls30)")
                              .c_str());
      return nullptr;
    }
    certificate = load_pair(path_in(dir, kServerCert), path_in(dir, kServerKey), error);
    if (!certificate) return nullptr;
  } else {
    // QEMU makes the client pair optional: a server with verify-peer=off does
    // not ask for one. Half a pair is a mistake worth reporting.
    const std::string cert = path_in(dir, kClientCert);
    const std::string key = path_in(dir, kClientKey);
    const bool has_cert = exists(cert);
    const bool has_key = exists(key);
    if (has_cert != has_key) {
      credentials_error(error, has_cert ? key : cert,
                        has_cert ? "missing (client-cert.pem needs its key)"
                                 : "missing (client-key.pem needs its certificate)");
      return nullptr;
    }
    if (has_cert) {
      certificate = load_pair(cert, key, error);
      if (!certificate) return nullptr;
    }
  }
  return std::make_shared<const TlsCredentials>(endpoint, dir, std::move(certificate), std::move(database));
}

}  // namespace vscard
