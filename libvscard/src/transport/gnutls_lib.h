// SPDX-License-Identifier: LGPL-2.1-or-later
// Internal: GnuTLS, loaded at first use instead of linked. Linked, it and what
// it needs (p11-kit, nettle, hogweed, gmp, libunistring, libtasn1, libidn2)
// were mapped into every process at start-up, TLS or not: 2.2 MiB of
// vscclient's peak RSS and about a tenth of its relocations (issue 19). Only a
// CRL check (tls_crl.cc) and a TLS listener (tls_server_handshake.cc,
// gnutls_stream.cc) load it; with TLS, GIO's TLS module (glib-networking) has
// mapped the same library already. The header gives the types; the functions
// are called through the table: gnutls_lib()->gnutls_handshake(session).
#pragma once

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

namespace vscard::transport {

// Every GnuTLS function libvscard calls (gnutls_free is a variable holding a
// pointer to the free function; it is `free_memory` below).
#define VSCARD_GNUTLS_FUNCTIONS(X)          \
  X(gnutls_load_file)                       \
  X(gnutls_strerror)                        \
  X(gnutls_error_is_fatal)                  \
  X(gnutls_x509_crl_list_import2)           \
  X(gnutls_x509_crl_deinit)                 \
  X(gnutls_x509_crl_verify)                 \
  X(gnutls_x509_crt_init)                   \
  X(gnutls_x509_crt_import)                 \
  X(gnutls_x509_crt_list_import2)           \
  X(gnutls_x509_crt_deinit)                 \
  X(gnutls_x509_crt_check_revocation)       \
  X(gnutls_x509_crt_get_serial)             \
  X(gnutls_certificate_allocate_credentials) \
  X(gnutls_certificate_free_credentials)    \
  X(gnutls_certificate_set_x509_key_file2)  \
  X(gnutls_certificate_set_x509_trust_file) \
  X(gnutls_certificate_server_set_request)  \
  X(gnutls_certificate_get_peers)           \
  X(gnutls_init)                            \
  X(gnutls_deinit)                          \
  X(gnutls_set_default_priority)            \
  X(gnutls_credentials_set)                 \
  X(gnutls_session_set_verify_cert2)        \
  X(gnutls_session_get_verify_cert_status)  \
  X(gnutls_transport_set_ptr)               \
  X(gnutls_transport_set_pull_function)     \
  X(gnutls_transport_set_push_function)     \
  X(gnutls_handshake)                       \
  X(gnutls_record_get_direction)            \
  X(gnutls_record_recv)                     \
  X(gnutls_record_send)                     \
  X(gnutls_record_check_pending)            \
  X(gnutls_bye)                             \
  X(gnutls_alert_send)                      \
  X(gnutls_alert_send_appropriate)          \
  X(gnutls_alert_get)                       \
  X(gnutls_alert_get_name)

struct GnutlsLib {
#define VSCARD_GNUTLS_MEMBER(name) decltype(&::name) name = nullptr;
  VSCARD_GNUTLS_FUNCTIONS(VSCARD_GNUTLS_MEMBER)
#undef VSCARD_GNUTLS_MEMBER
  gnutls_free_function free_memory = nullptr;
};

// The loaded library (libgnutls.so.30, the soname of GnuTLS 3.x), or null when
// it or one of the functions is missing. Loaded once, never unloaded.
const GnutlsLib* gnutls_lib();

// For code that runs once gnutls_lib() was found non-null (a session exists).
inline const GnutlsLib& tls_lib() { return *gnutls_lib(); }

// The line to give when gnutls_lib() is null.
inline constexpr const char* kGnutlsMissing = "GnuTLS (libgnutls.so.30) could not be loaded";

}  // namespace vscard::transport
