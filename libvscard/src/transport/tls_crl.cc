// SPDX-License-Identifier: LGPL-2.1-or-later
// CRL checks with GnuTLS (see tls_crl.h).
#include "transport/tls_crl.h"

#include <dlfcn.h>
#include <gnutls/x509.h>

#include <cstring>
#include <type_traits>

#include "vscard/transport_error.h"

namespace vscard::transport {
namespace {

// GnuTLS is loaded the first time a CRL is used, not linked: linked, it and
// what it needs (p11-kit, nettle, hogweed, gmp, libunistring, libtasn1,
// libidn2) were mapped into every process at start-up, TLS or not: 2.2 MiB of
// vscclient's peak RSS and about a tenth of its relocations (issue 19). With
// TLS, GIO's TLS module (glib-networking) has loaded the same library already.
// The header gives the types; "libgnutls.so.30" is the soname of GnuTLS 3.x.
struct Gnutls {
  decltype(&gnutls_load_file) load_file = nullptr;
  gnutls_free_function free = nullptr;  // gnutls_free is a variable holding it
  decltype(&gnutls_strerror) strerror = nullptr;
  decltype(&gnutls_x509_crl_list_import2) crl_list_import2 = nullptr;
  decltype(&gnutls_x509_crl_deinit) crl_deinit = nullptr;
  decltype(&gnutls_x509_crl_verify) crl_verify = nullptr;
  decltype(&gnutls_x509_crt_list_import2) crt_list_import2 = nullptr;
  decltype(&gnutls_x509_crt_deinit) crt_deinit = nullptr;
  decltype(&gnutls_x509_crt_check_revocation) crt_check_revocation = nullptr;
  decltype(&gnutls_x509_crt_get_serial) crt_get_serial = nullptr;
};

// Null when the library or one of the functions is missing.
const Gnutls* gnutls() {
  static const Gnutls* loaded = [] () -> const Gnutls* {
    void* lib = dlopen("libgnutls.so.30", RTLD_NOW | RTLD_LOCAL);  // never closed
    if (lib == nullptr) return nullptr;
    static Gnutls g;
    auto get = [lib](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      return fn != nullptr;
    };
    // gnutls_free is a variable (a pointer to the free function), not a function.
    auto* free_var = static_cast<gnutls_free_function*>(dlsym(lib, "gnutls_free"));
    if (free_var == nullptr || *free_var == nullptr) return nullptr;
    g.free = *free_var;
    bool ok = get(g.load_file, "gnutls_load_file") && get(g.strerror, "gnutls_strerror") &&
              get(g.crl_list_import2, "gnutls_x509_crl_list_import2") &&
              get(g.crl_deinit, "gnutls_x509_crl_deinit") &&
              get(g.crl_verify, "gnutls_x509_crl_verify") &&
              get(g.crt_list_import2, "gnutls_x509_crt_list_import2") &&
              get(g.crt_deinit, "gnutls_x509_crt_deinit") &&
              get(g.crt_check_revocation, "gnutls_x509_crt_check_revocation") &&
              get(g.crt_get_serial, "gnutls_x509_crt_get_serial");
    return ok ? &g : nullptr;
  }();
  return loaded;
}

// The whole file as a gnutls_datum_t (freed with gnutls_free).
struct FileData {
  gnutls_datum_t datum{nullptr, 0};
  explicit FileData(const std::string& path) { gnutls()->load_file(path.c_str(), &datum); }
  ~FileData() { gnutls()->free(datum.data); }
  bool ok() const { return datum.data != nullptr; }
};

struct CrlList {
  gnutls_x509_crl_t* crls = nullptr;
  unsigned count = 0;
  ~CrlList() {
    for (unsigned i = 0; i < count; ++i) gnutls()->crl_deinit(crls[i]);
    gnutls()->free(crls);
  }
  int import(const FileData& file) {
    return gnutls()->crl_list_import2(&crls, &count, &file.datum, GNUTLS_X509_FMT_PEM, 0);
  }
};

struct CertList {
  gnutls_x509_crt_t* certs = nullptr;
  unsigned count = 0;
  ~CertList() {
    for (unsigned i = 0; i < count; ++i) gnutls()->crt_deinit(certs[i]);
    gnutls()->free(certs);
  }
  int import(const gnutls_datum_t& data) {
    return gnutls()->crt_list_import2(&certs, &count, &data, GNUTLS_X509_FMT_PEM, 0);
  }
};

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
  if (int rc = crls.import(crl_file); rc < 0 || crls.count == 0) {
    return crl_error(error, crl_path,
                     std::string("is not a PEM certificate revocation list (") +
                         (rc < 0 ? gnutls()->strerror(rc) : "no CRL in it") + ")"),
           false;
  }
  CertList cas;
  if (!ca_file.ok() || cas.import(ca_file.datum) < 0) return true;  // ca-cert.pem reports itself
  for (unsigned i = 0; i < crls.count; ++i) {
    unsigned verify = 0;
    if (gnutls()->crl_verify(crls.crls[i], cas.certs, cas.count, 0, &verify) < 0 || verify != 0) {
      return crl_error(error, crl_path, "a revocation list in it is not signed by the CA in " + ca_path),
             false;
    }
  }
  return true;
}

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
  FileData crl_file(crl_path);
  CrlList crls;
  // Checked at load; a file broken since then revokes nothing new.
  if (!crl_file.ok() || crls.import(crl_file) < 0) return std::nullopt;
  if (gnutls()->crt_check_revocation(certs.certs[0], crls.crls, crls.count) != 1) return std::nullopt;
  unsigned char serial[64];
  size_t size = sizeof serial;
  std::string hex;
  if (gnutls()->crt_get_serial(certs.certs[0], serial, &size) == 0) {
    for (size_t i = 0; i < size; ++i) {
      char b[3];
      g_snprintf(b, sizeof b, "%02X", serial[i]);
      hex += b;
    }
  }
  return hex;
}

}  // namespace vscard::transport
