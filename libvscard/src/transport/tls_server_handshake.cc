// SPDX-License-Identifier: LGPL-2.1-or-later
// The server side of TLS handshakes: GnuTLS driven by socket readiness on the
// main context (see tls_handshake.h and gnutls_stream.h for why no
// glib-networking here). Each step calls gnutls_handshake on a non-blocking
// socket; GNUTLS_E_AGAIN means "wait until the socket is readable (or
// writable, gnutls_record_get_direction) and call again". A peer that stalls
// therefore costs one socket source until the handshake timeout, and any
// number of them cannot delay another client's handshake.
//
// The checks are those GTlsConnection made: the client certificate must chain
// to ca-cert.pem (gnutls_session_set_verify_cert2, purpose TLS client), is
// required when verify_peer is set (QEMU's verify-peer=on), and is checked
// against ca-crl.pem afterwards (tls_crl.h), each failure with its own line.
#define G_LOG_DOMAIN "vscard"
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "transport/gnutls_lib.h"
#include "transport/gnutls_stream.h"
#include "transport/socket_util.h"
#include "transport/tls_crl.h"
#include "transport/tls_handshake.h"
#include "vscard/transport_error.h"

namespace vscard::transport {
namespace {

std::string path_in(const std::string& dir, const char* name) {
  gchar* joined = g_build_filename(dir.c_str(), name, nullptr);
  std::string path(joined);
  g_free(joined);
  return path;
}

// GnuTLS's own copy of the server's credentials, made at the first handshake
// and kept as data on the credentials' certificate object, so it lives and
// dies with the TlsCredentials that holds that object.
struct ServerCredentials {
  gnutls_certificate_credentials_t credentials = nullptr;
  std::string error;  // why they could not be loaded
  ~ServerCredentials() {
    if (credentials) tls_lib().gnutls_certificate_free_credentials(credentials);
  }
};

constexpr const char* kCredentialsKey = "vscard-gnutls-server-credentials";

const ServerCredentials& server_credentials(const TlsCredentials& source) {
  GObject* holder = G_OBJECT(source.certificate());
  if (auto* cached = static_cast<ServerCredentials*>(g_object_get_data(holder, kCredentialsKey))) return *cached;
  auto made = std::make_unique<ServerCredentials>();
  const std::string cert = path_in(source.dir(), "server-cert.pem");
  const std::string key = path_in(source.dir(), "server-key.pem");
  const std::string ca = path_in(source.dir(), "ca-cert.pem");
  int rc = tls_lib().gnutls_certificate_allocate_credentials(&made->credentials);
  if (rc >= 0) rc = tls_lib().gnutls_certificate_set_x509_key_file2(made->credentials, cert.c_str(), key.c_str(),
                                                          GNUTLS_X509_FMT_PEM, nullptr, 0);
  if (rc >= 0) rc = tls_lib().gnutls_certificate_set_x509_trust_file(made->credentials, ca.c_str(), GNUTLS_X509_FMT_PEM);
  if (rc < 0) made->error = std::string("TLS credentials in ") + source.dir() + ": " + tls_lib().gnutls_strerror(rc);
  auto* kept = made.release();
  g_object_set_data_full(holder, kCredentialsKey, kept,
                         [](gpointer data) { std::unique_ptr<ServerCredentials> owned(static_cast<ServerCredentials*>(data)); });
  return *kept;
}

struct ServerHandshake : std::enable_shared_from_this<ServerHandshake> {
  std::string peer;  // "client ADDRESS", for messages
  std::string ca_path;
  std::string crl_path;  // ca-crl.pem beside ca_path, if the file exists
  GObjectPtr<GIOStream> base;
  GSocket* socket = nullptr;  // owned by base
  gnutls_session_t session = nullptr;
  GSourcePtr io_source;
  GSourcePtr timer;
  TlsHandshake::Done done;
  std::shared_ptr<ServerHandshake> self;  // while the handshake runs
  // The first record's header, to tell "not TLS" from "a TLS hello, then gone".
  std::uint8_t head[5] = {};
  std::size_t received = 0;
  std::size_t first_record = 0;  // 5 + its length once the header is in; max if not a handshake record
  bool abortive_close = false;   // refuse with a TCP reset (see refuse)

  ~ServerHandshake() {
    if (session) tls_lib().gnutls_deinit(session);
  }

  bool saw_hello() const { return first_record != 0 && received >= first_record; }

  // Reads for the handshake, noting how much of the first record arrived.
  static ssize_t pull(gnutls_transport_ptr_t data, void* buffer, size_t size) {
    auto* self = static_cast<ServerHandshake*>(data);
    const ssize_t n = recv(g_socket_get_fd(self->socket), buffer, size, MSG_DONTWAIT);
    if (n <= 0) return n;
    const auto* bytes = static_cast<const std::uint8_t*>(buffer);
    for (ssize_t i = 0; i < n && self->received + static_cast<std::size_t>(i) < sizeof self->head; ++i)
      self->head[self->received + static_cast<std::size_t>(i)] = bytes[i];
    self->received += static_cast<std::size_t>(n);
    // A TLS handshake record: type 22, the version, a 2-byte length (RFC 8446 5.1).
    if (self->first_record == 0 && self->received >= sizeof self->head)
      self->first_record = self->head[0] == 22 ? 5 + (static_cast<std::size_t>(self->head[3]) << 8 | self->head[4])
                                               : std::numeric_limits<std::size_t>::max();
    return n;
  }

  static ssize_t push(gnutls_transport_ptr_t data, const void* buffer, size_t size) {
    return send(g_socket_get_fd(static_cast<ServerHandshake*>(data)->socket), buffer, size,
                MSG_DONTWAIT | MSG_NOSIGNAL);
  }

  void start(std::chrono::seconds timeout) {
    self = shared_from_this();
    if (timeout.count() > 0) {
      timer.reset(g_timeout_source_new_seconds(static_cast<guint>(timeout.count())));
      g_source_set_callback(timer.get(), &ServerHandshake::on_timeout, this, nullptr);
      g_source_attach(timer.get(), g_main_context_get_thread_default());
    }
    step();
  }

  static gboolean on_timeout(gpointer data) {
    auto* state = static_cast<ServerHandshake*>(data);
    state->fail(TransportError::TlsHandshake, "timed out");
    return G_SOURCE_REMOVE;
  }

  static gboolean on_ready(GSocket*, GIOCondition, gpointer data) {
    static_cast<ServerHandshake*>(data)->step();
    return G_SOURCE_REMOVE;
  }

  void step() {
    io_source.reset();
    int rc;
    do rc = tls_lib().gnutls_handshake(session);
    while (rc == GNUTLS_E_INTERRUPTED || (rc < 0 && rc != GNUTLS_E_AGAIN && !tls_lib().gnutls_error_is_fatal(rc)));
    if (rc == GNUTLS_E_AGAIN) {
      const GIOCondition want = tls_lib().gnutls_record_get_direction(session) ? G_IO_OUT : G_IO_IN;
      io_source.reset(g_socket_create_source(socket, want, nullptr));
      g_source_set_callback(io_source.get(), G_SOURCE_FUNC(+&ServerHandshake::on_ready), this, nullptr);
      g_source_attach(io_source.get(), g_main_context_get_thread_default());
      return;
    }
    if (rc < 0) return refuse(rc);
    if (!crl_path.empty()) {
      unsigned count = 0;
      const gnutls_datum_t* chain = tls_lib().gnutls_certificate_get_peers(session, &count);
      if (auto serial = chain && count > 0 ? revoked_serial_der(chain[0], crl_path) : std::nullopt) {
        tls_lib().gnutls_alert_send(session, GNUTLS_AL_FATAL, GNUTLS_A_CERTIFICATE_REVOKED);
        return fail(TransportError::TlsRevoked,
                    "the client certificate (serial " + *serial + ") is revoked by " + crl_path);
      }
    }
    auto keep = std::move(self);
    timer.reset();
    GObjectPtr<GIOStream> stream(gnutls_stream_new(base.get(), session));
    session = nullptr;  // the stream's now
    auto finished = std::move(done);
    finished(std::move(stream), GErrorPtr());
  }

  // A failed handshake: the client hears an alert when GnuTLS has one for the
  // reason (certificate required, unknown CA...), and we say why.
  void refuse(int rc) {
    if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND || rc == GNUTLS_E_CERTIFICATE_REQUIRED) {
      // No alert, and a reset instead of a FIN: glib-networking's client
      // (vscclient) turns a failed first read after a certificate request it
      // could not meet into "certificate required" (G_TLS_ERROR_CERTIFICATE_
      // REQUIRED; TLS 1.3 has the verdict arrive after the client's Finished),
      // but reports the certificate_required alert only as a generic "fatal
      // alert" and a FIN as an ordinary close.
      abortive_close = true;
      return fail(TransportError::TlsNoClientCertificate,
                  "the client sent no certificate, but this listener requires one (mutual TLS, "
                  "verify-peer): give the client a client-cert.pem and client-key.pem signed by " +
                      ca_path);
    }
    tls_lib().gnutls_alert_send_appropriate(session, rc);
    if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR || rc == GNUTLS_E_CERTIFICATE_ERROR)
      return certificate_refused(tls_lib().gnutls_session_get_verify_cert_status(session));
    if (first_record == std::numeric_limits<std::size_t>::max() || (received > 0 && first_record == 0))
      return fail(TransportError::TlsHandshake, "the peer does not speak TLS");
    const bool ended = rc == GNUTLS_E_PREMATURE_TERMINATION || rc == GNUTLS_E_PULL_ERROR ||
                       rc == GNUTLS_E_UNEXPECTED_PACKET_LENGTH;
    if (ended && saw_hello())
      return fail(TransportError::TlsHandshake,
                  "the client sent a TLS hello, then closed the connection before the handshake completed");
    if (ended && received == 0)
      return fail(TransportError::TlsHandshake, "the client closed the connection before sending a TLS hello");
    if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
      return fail(TransportError::TlsHandshake,
                  std::string("the client ended it with the alert '") +
                      tls_lib().gnutls_alert_get_name(tls_lib().gnutls_alert_get(session)) + "'");
    fail(TransportError::TlsHandshake, tls_lib().gnutls_strerror(rc));
  }

  void certificate_refused(unsigned status) {
    // The most useful check first: an unknown CA makes the others meaningless.
    std::string text;
    TransportError code = TransportError::TlsBadCertificate;
    auto add = [&](unsigned flag, TransportError c, const std::string& what) {
      if ((status & flag) == 0) return;
      if (text.empty()) code = c;
      text += (text.empty() ? "" : "; ") + what;
    };
    add(GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA, TransportError::TlsUnknownCa,
        "the client certificate is not signed by the CA in " + ca_path + " (unknown CA)");
    add(GNUTLS_CERT_EXPIRED, TransportError::TlsExpired, "the client certificate has expired");
    add(GNUTLS_CERT_NOT_ACTIVATED, TransportError::TlsExpired,
        "the client certificate is not valid yet (check the clocks)");
    add(GNUTLS_CERT_REVOKED, TransportError::TlsRevoked, "the client certificate has been revoked");
    add(GNUTLS_CERT_INSECURE_ALGORITHM, TransportError::TlsBadCertificate,
        "the client certificate uses an insecure algorithm");
    add(GNUTLS_CERT_PURPOSE_MISMATCH, TransportError::TlsBadCertificate,
        "the client certificate is not for TLS client authentication (extendedKeyUsage)");
    if (text.empty()) text = "the client certificate could not be verified";
    fail(code, text);
  }

  void fail(TransportError code, const std::string& text) {
    auto keep = std::move(self);
    if (!keep) return;
    io_source.reset();
    timer.reset();
    if (abortive_close) {
      const struct linger reset {1, 0};
      setsockopt(g_socket_get_fd(socket), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
    g_io_stream_close(base.get(), nullptr, nullptr);
    GErrorPtr verdict;
    set_transport_error(verdict.out(), code, ("TLS handshake with " + peer + " failed: " + text).c_str());
    auto finished = std::move(done);
    finished(nullptr, std::move(verdict));
  }

  void cancel() {
    io_source.reset();
    timer.reset();
    done = nullptr;
    self.reset();
  }
};

std::shared_ptr<TlsHandshake> fail_now(const std::string& peer, const std::string& why, TlsHandshake::Done& done) {
  GErrorPtr verdict;
  set_transport_error(verdict.out(), TransportError::TlsHandshake, ("TLS with " + peer + ": " + why).c_str());
  done(nullptr, std::move(verdict));
  return nullptr;
}

}  // namespace

std::shared_ptr<TlsHandshake> TlsHandshake::server(GIOStream* base, const TlsServerOptions& options,
                                                   const std::string& peer, std::chrono::seconds timeout,
                                                   Done done) {
  if (gnutls_lib() == nullptr) return fail_now(peer, kGnutlsMissing, done);
  const ServerCredentials& credentials = server_credentials(*options.credentials);
  if (!credentials.error.empty()) return fail_now(peer, credentials.error, done);
  GSocket* socket = socket_of(base);
  if (socket == nullptr) return fail_now(peer, "TLS needs a socket connection", done);
  auto state = std::make_shared<ServerHandshake>();
  state->peer = "client " + peer;
  state->ca_path = path_in(options.credentials->dir(), "ca-cert.pem");
  if (std::string crl = path_in(options.credentials->dir(), "ca-crl.pem"); g_file_test(crl.c_str(), G_FILE_TEST_EXISTS))
    state->crl_path = crl;
  state->base = ref_object(base);
  state->socket = socket;
  int rc = tls_lib().gnutls_init(&state->session, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
  if (rc >= 0) rc = tls_lib().gnutls_set_default_priority(state->session);
  if (rc >= 0) rc = tls_lib().gnutls_credentials_set(state->session, GNUTLS_CRD_CERTIFICATE, credentials.credentials);
  if (rc < 0) return fail_now(peer, tls_lib().gnutls_strerror(rc), done);
  if (options.verify_peer) {
    tls_lib().gnutls_certificate_server_set_request(state->session, GNUTLS_CERT_REQUIRE);
    // Verified during the handshake: no host name (a client certificate names
    // a client), and the purpose TLS client, as glib-networking checked it
    // (g_tls_database_verify_chain, PURPOSE_AUTHENTICATE_CLIENT).
    // gnutls_session_set_verify_cert without it checked no purpose at all: a
    // certificate made for servers only (extendedKeyUsage serverAuth) passed.
    static gnutls_typed_vdata_st purpose{GNUTLS_DT_KEY_PURPOSE_OID,
                                         const_cast<unsigned char*>(
                                             reinterpret_cast<const unsigned char*>(GNUTLS_KP_TLS_WWW_CLIENT)),
                                         0};
    tls_lib().gnutls_session_set_verify_cert2(state->session, &purpose, 1, 0);
  }
  tls_lib().gnutls_transport_set_ptr(state->session, state.get());
  tls_lib().gnutls_transport_set_pull_function(state->session, &ServerHandshake::pull);
  tls_lib().gnutls_transport_set_push_function(state->session, &ServerHandshake::push);
  state->done = std::move(done);
  state->start(timeout);
  if (!state->self) return nullptr;  // already failed, `done` called
  return std::make_shared<TlsHandshake>([state] { state->cancel(); });
}

}  // namespace vscard::transport
