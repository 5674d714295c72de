// SPDX-License-Identifier: LGPL-2.1-or-later
// CRL checks with GnuTLS (see tls_crl.h).
#include "transport/tls_crl.h"

#include <gnutls/x509.h>

#include <cstring>

#include "transport/gnutls_lib.h"
#include "vscard/transport_error.h"

namespace vscard::transport {
namespace {

const GnutlsLib* gnutls() { return gnutls_lib(); }

// The whole file as a gnutls_datum_t (freed with gnutls_free).
struct FileData {
  gnutls_datum_t datum{nullptr, 0};
  explicit FileData(const std::string& path) { gnutls()->gnutls_load_file(path.c_str(), &datum); }
  ~FileData() { gnutls()->free_memory(datum.data); }
  bool ok() const { return datum.data != nullptr; }
};

// The certificates or revocation lists of one PEM text: GnuTLS has one import
// and one deinit per kind with the same shape, so one list serves both.
template <class Item, auto Import, auto Deinit>
struct PemList {
  Item* items = nullptr;
  unsigned count = 0;
  ~PemList() {
    for (unsigned i = 0; i < count; ++i) (gnutls()->*Deinit)(items[i]);
    gnutls()->free_memory(items);
  }
  int import(const gnutls_datum_t& pem) {
    return (gnutls()->*Import)(&items, &count, &pem, GNUTLS_X509_FMT_PEM, 0);
  }
};
using CrlList = PemList<gnutls_x509_crl_t, &GnutlsLib::gnutls_x509_crl_list_import2,
                        &GnutlsLib::gnutls_x509_crl_deinit>;
using CertList = PemList<gnutls_x509_crt_t, &GnutlsLib::gnutls_x509_crt_list_import2,
                         &GnutlsLib::gnutls_x509_crt_deinit>;

void crl_error(GError** error, const std::string& path, const std::string& what) {
  g_set_error(error, VSCARD_TRANSPORT_ERROR, static_cast<int>(TransportError::TlsCredentials),
              "TLS credentials: %s: %s", path.c_str(), what.c_str());
}

}  // namespace

bool check_crl_file(const std::string& crl_path, const std::string& ca_path, GError** error) {
  if (gnutls() == nullptr) {
    return crl_error(error, crl_path, "GnuTLS (libgnutls.so.30), which checks revocation lists, "
                                      "could not be loaded"),
           false;
  }
  FileData crl_file(crl_path), ca_file(ca_path);
  if (!crl_file.ok()) return crl_error(error, crl_path, "cannot be read"), false;
  CrlList crls;
  if (int rc = crls.import(crl_file.datum); rc < 0 || crls.count == 0) {
    return crl_error(error, crl_path,
                     std::string("is not a PEM certificate revocation list (") +
                         (rc < 0 ? gnutls()->gnutls_strerror(rc) : "no CRL in it") + ")"),
           false;
  }
  CertList cas;
  if (!ca_file.ok() || cas.import(ca_file.datum) < 0) return true;  // ca-cert.pem reports itself
  for (unsigned i = 0; i < crls.count; ++i) {
    unsigned verify = 0;
    if (gnutls()->gnutls_x509_crl_verify(crls.items[i], cas.items, cas.count, 0, &verify) < 0 || verify != 0) {
      return crl_error(error, crl_path, "a revocation list in it is not signed by the CA in " + ca_path),
             false;
    }
  }
  return true;
}

namespace {

std::optional<std::string> check_revocation(gnutls_x509_crt_t cert, const std::string& crl_path) {
  FileData crl_file(crl_path);
  CrlList crls;
  // Checked at load; a file broken since then revokes nothing new.
  if (!crl_file.ok() || crls.import(crl_file.datum) < 0) return std::nullopt;
  if (gnutls()->gnutls_x509_crt_check_revocation(cert, crls.items, crls.count) != 1) return std::nullopt;
  unsigned char serial[64];
  size_t size = sizeof serial;
  std::string hex;
  if (gnutls()->gnutls_x509_crt_get_serial(cert, serial, &size) == 0) {
    for (size_t i = 0; i < size; ++i) {
      char b[3];
      g_snprintf(b, sizeof b, "%02X", serial[i]);
      hex += b;
    }
  }
  return hex;
}

}  // namespace

std::optional<std::string> revoked_serial(GTlsCertificate* peer, const std::string& crl_path) {
  // check_crl_file() has loaded GnuTLS (or refused the CRL) before any handshake.
  if (peer == nullptr || gnutls() == nullptr) return std::nullopt;
  gchar* pem = nullptr;
  g_object_get(peer, "certificate-pem", &pem, nullptr);
  if (pem == nullptr) return std::nullopt;
  gnutls_datum_t data{reinterpret_cast<unsigned char*>(pem), static_cast<unsigned>(strlen(pem))};
  CertList certs;
  const int rc = certs.import(data);
  g_free(pem);
  if (rc < 0 || certs.count == 0) return std::nullopt;
  return check_revocation(certs.items[0], crl_path);
}

std::optional<std::string> revoked_serial_der(const gnutls_datum_t& peer, const std::string& crl_path) {
  if (gnutls() == nullptr) return std::nullopt;
  gnutls_x509_crt_t cert = nullptr;
  if (gnutls()->gnutls_x509_crt_init(&cert) < 0) return std::nullopt;
  std::optional<std::string> result;
  if (gnutls()->gnutls_x509_crt_import(cert, &peer, GNUTLS_X509_FMT_DER) == 0)
    result = check_revocation(cert, crl_path);
  gnutls()->gnutls_x509_crt_deinit(cert);
  return result;
}

}  // namespace vscard::transport
