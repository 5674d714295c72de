// SPDX-License-Identifier: LGPL-2.1-or-later
// TLS handshakes with clear verdicts (see tls_handshake.h).
//
// Certificate checks: GIO verifies the peer against the database (ca-cert.pem)
// and, on the client, the server identity. Any failure is reported to the
// "accept-certificate" signal with GTlsCertificateFlags; we record the flags,
// refuse, and build the message from them, because the handshake error itself
// only says "Unacceptable TLS certificate".
#define G_LOG_DOMAIN "vscard"
#include "transport/tls_handshake.h"

#include <sys/socket.h>

#include <string>

#include "transport/socket_util.h"
#include "transport/tls_crl.h"
#include "vscard/transport_error.h"

namespace vscard::transport {

struct TlsHandshake::State : std::enable_shared_from_this<State> {
  bool server = false;
  std::string peer;         // for messages
  std::string server_name;  // client: the name checked
  std::string ca_path;
  std::string crl_path;  // ca-crl.pem beside ca_path, if the file exists
  bool have_certificate = false;
  GObjectPtr<GIOStream> tls;
  GObjectPtr<GCancellable> cancellable{g_cancellable_new()};
  GSourcePtr timer;
  GTlsCertificateFlags rejected = static_cast<GTlsCertificateFlags>(0);
  bool timed_out = false;
  bool cancelled = false;
  // Server: the client's first TLS record (its ClientHello) is waited for on
  // the main context before glib-networking gets the connection (see wait_hello).
  GSourcePtr hello_source;
  std::size_t hello_needed = 0;  // bytes of the first record: 5, then 5 + its length
  bool saw_hello = false;        // the client sent a whole TLS handshake record
  Done done;
  std::shared_ptr<State> self;  // while the handshake runs

  static gboolean on_accept_certificate(GTlsConnection*, GTlsCertificate*, GTlsCertificateFlags errors,
                                        gpointer data) {
    // A server connection asks about every client certificate, valid or not
    // (glib-networking leaves the decision to the application there); a client
    // connection only asks about failed ones. Never accept one that failed a check.
    static_cast<State*>(data)->rejected = errors;
    return errors == 0;
  }

  static gboolean on_timeout(gpointer data) {
    auto* state = static_cast<State*>(data);
    state->timed_out = true;
    g_cancellable_cancel(state->cancellable.get());
    return G_SOURCE_REMOVE;
  }

  void start(std::chrono::seconds timeout) {
    self = shared_from_this();
    g_signal_connect(tls.get(), "accept-certificate", G_CALLBACK(&State::on_accept_certificate), this);
    if (timeout.count() > 0) {
      timer.reset(g_timeout_source_new_seconds(static_cast<guint>(timeout.count())));
      g_source_set_callback(timer.get(), &State::on_timeout, this, nullptr);
      g_source_attach(timer.get(), g_main_context_get_thread_default());
    }
    if (server && base_socket() != nullptr) return wait_hello(5);
    run_handshake();
  }

  void run_handshake() {
    g_tls_connection_handshake_async(G_TLS_CONNECTION(tls.get()), G_PRIORITY_DEFAULT, cancellable.get(),
                                     &State::handshake_done, this);
  }

  GSocket* base_socket() const {
    GIOStream* base = nullptr;
    g_object_get(tls.get(), "base-io-stream", &base, nullptr);
    GSocket* socket = base ? socket_of(base) : nullptr;
    if (base) g_object_unref(base);
    return socket;
  }

  // glib-networking runs every handshake, async or not, on a thread of GLib's
  // shared GTask pool (10 threads, grown by one every few tenths of a second
  // at most), and that thread blocks while the peer is silent. A few dozen
  // clients that connect and send nothing, or half a ClientHello, would hold
  // every thread and starve real clients for minutes. So the server waits on
  // the main context, with no thread, until the client's first TLS record is
  // complete in the socket buffer: SO_RCVLOWAT makes the socket readable only
  // then (or at EOF), and MSG_PEEK leaves the bytes for GnuTLS.
  void wait_hello(std::size_t needed) {
    GSocket* socket = base_socket();
    hello_needed = needed;
    int lowat = static_cast<int>(needed);
    setsockopt(g_socket_get_fd(socket), SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
    hello_source.reset(g_socket_create_source(socket, G_IO_IN, cancellable.get()));
    g_source_set_callback(hello_source.get(), G_SOURCE_FUNC(+&State::on_hello_readable),
                          this, nullptr);
    g_source_attach(hello_source.get(), g_main_context_get_thread_default());
  }

  static gboolean on_hello_readable(GSocket* socket, GIOCondition, gpointer data) {
    auto* state = static_cast<State*>(data);
    if (g_cancellable_is_cancelled(state->cancellable.get())) {
      // Timed out or abandoned: let the handshake report it (it fails at once).
      state->hello_source.reset();
      state->hello_done(socket);
      return G_SOURCE_REMOVE;
    }
    std::uint8_t head[5 + 16384 + 2048];
    const std::size_t want = std::min(state->hello_needed, sizeof head);
    const ssize_t n = recv(g_socket_get_fd(socket), head, want, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return G_SOURCE_CONTINUE;
    state->hello_source.reset();
    // A TLS handshake record: type 22, then the version and a 2-byte length
    // (RFC 8446 5.1). Anything else, or EOF, goes to GnuTLS as it is: it
    // reports the verdict ("not TLS", "closed").
    if (n >= 5 && head[0] == 22 && state->hello_needed == 5) {
      state->wait_hello(5 + (static_cast<std::size_t>(head[3]) << 8 | head[4]));
      return G_SOURCE_REMOVE;
    }
    if (n > 0 && static_cast<std::size_t>(n) >= want && state->hello_needed > 5) state->saw_hello = true;
    state->hello_done(socket);
    return G_SOURCE_REMOVE;
  }

  void hello_done(GSocket* socket) {
    int one = 1;
    setsockopt(g_socket_get_fd(socket), SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
    run_handshake();
  }

  static void handshake_done(GObject* source, GAsyncResult* result, gpointer data) {
    auto state = std::move(static_cast<State*>(data)->self);
    state->timer.reset();
    g_signal_handlers_disconnect_by_data(source, state.get());
    GErrorPtr error;
    const bool ok = g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), result, error.out());
    if (state->cancelled) return;
    auto done = std::move(state->done);
    if (ok && !state->crl_path.empty()) {
      GTlsCertificate* peer_cert = g_tls_connection_get_peer_certificate(G_TLS_CONNECTION(source));
      if (auto serial = revoked_serial(peer_cert, state->crl_path)) {
        g_io_stream_close(state->tls.get(), nullptr, nullptr);
        GErrorPtr verdict;
        set_transport_error(verdict.out(), TransportError::TlsRevoked,
                            ("TLS handshake with " + state->peer + " failed: " + state->whose() +
                             " (serial " + *serial + ") is revoked by " + state->crl_path)
                                .c_str());
        return done(nullptr, std::move(verdict));
      }
    }
    if (ok) return done(std::move(state->tls), GErrorPtr());
    GErrorPtr verdict;
    state->explain(error.get(), verdict.out());
    done(nullptr, std::move(verdict));
  }

  // The certificate's owner as seen from this side.
  const char* whose() const { return server ? "the client certificate" : "the server certificate"; }

  void explain(const GError* error, GError** out) const {
    const std::string prefix = "TLS handshake with " + peer + " failed: ";
    auto set = [&](TransportError code, const std::string& text) {
      set_transport_error(out, code, (prefix + text).c_str());
    };
    if (timed_out) return set(TransportError::TlsHandshake, "timed out");
    if (rejected != 0) {
      // The most useful check first: an unknown CA makes the others meaningless.
      std::string text;
      TransportError code = TransportError::TlsBadCertificate;
      auto add = [&](GTlsCertificateFlags flag, TransportError c, const std::string& what) {
        if ((rejected & flag) == 0) return;
        if (text.empty()) code = c;
        text += (text.empty() ? "" : "; ") + what;
      };
      add(G_TLS_CERTIFICATE_UNKNOWN_CA, TransportError::TlsUnknownCa,
          std::string(whose()) + " is not signed by the CA in " + ca_path + " (unknown CA)");
      add(G_TLS_CERTIFICATE_EXPIRED, TransportError::TlsExpired, std::string(whose()) + " has expired");
      add(G_TLS_CERTIFICATE_NOT_ACTIVATED, TransportError::TlsExpired,
          std::string(whose()) + " is not valid yet (check the clocks)");
      add(G_TLS_CERTIFICATE_BAD_IDENTITY, TransportError::TlsNameMismatch,
          std::string(whose()) + " does not name '" + server_name +
              "' (host name mismatch; the expected name can be set with --tls-hostname)");
      add(G_TLS_CERTIFICATE_REVOKED, TransportError::TlsRevoked, std::string(whose()) + " has been revoked");
      add(G_TLS_CERTIFICATE_INSECURE, TransportError::TlsBadCertificate,
          std::string(whose()) + " uses an insecure algorithm");
      add(G_TLS_CERTIFICATE_GENERIC_ERROR, TransportError::TlsBadCertificate,
          std::string(whose()) + " could not be verified");
      if (text.empty()) text = std::string(whose()) + " was refused";
      return set(code, text);
    }
    if (g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED) && server)
      return set(TransportError::TlsNoClientCertificate,
                 "the client sent no certificate, but this listener requires one (mutual TLS, "
                 "verify-peer): give the client a client-cert.pem and client-key.pem signed by " +
                     ca_path);
    if (g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED))
      return set(TransportError::TlsNoClientCertificate, kClientCertificateRequired);
    if (g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS) && saw_hello)
      return set(TransportError::TlsHandshake,
                 "the client sent a TLS hello, then closed the connection before the handshake "
                 "completed");
    if (g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS))
      return set(TransportError::TlsHandshake, "the peer does not speak TLS");
    std::string text = error ? error->message : "unknown error";
    if (!server && !have_certificate && error && error->domain == G_TLS_ERROR)
      text += " (if the server requires a client certificate, add client-cert.pem and client-key.pem)";
    set(TransportError::TlsHandshake, text);
  }
};

namespace {

std::string ca_path_of(const TlsCredentials& credentials) {
  gchar* path = g_build_filename(credentials.dir().c_str(), "ca-cert.pem", nullptr);
  std::string result(path);
  g_free(path);
  return result;
}

std::string crl_path_of(const TlsCredentials& credentials) {
  gchar* path = g_build_filename(credentials.dir().c_str(), "ca-crl.pem", nullptr);
  std::string result = g_file_test(path, G_FILE_TEST_EXISTS) ? path : "";
  g_free(path);
  return result;
}

std::shared_ptr<TlsHandshake> fail_now(const std::string& peer, GError* error, TlsHandshake::Done& done) {
  GErrorPtr verdict;
  g_set_error(verdict.out(), VSCARD_TRANSPORT_ERROR, static_cast<int>(TransportError::TlsHandshake),
              "TLS with %s: %s", peer.c_str(), error->message);
  g_error_free(error);
  done(nullptr, std::move(verdict));
  return nullptr;
}

}  // namespace

std::shared_ptr<TlsHandshake> TlsHandshake::client(GIOStream* base, const TlsClientOptions& options,
                                                   const std::string& server_name, std::uint16_t port,
                                                   const std::string& peer, std::chrono::seconds timeout,
                                                   Done done) {
  auto state = std::make_shared<State>();
  state->peer = peer;
  state->server_name = server_name;
  state->ca_path = ca_path_of(*options.credentials);
  state->crl_path = crl_path_of(*options.credentials);
  state->have_certificate = options.credentials->certificate() != nullptr;
  // An IP literal is given as a socket address: the certificate must list it as
  // an IP SAN, and no SNI is sent (an IP in SNI is not allowed, RFC 6066 3).
  GObjectPtr<GSocketConnectable> identity;
  if (GObjectPtr<GInetAddress> ip(g_inet_address_new_from_string(server_name.c_str())); ip)
    identity.reset(G_SOCKET_CONNECTABLE(g_inet_socket_address_new(ip.get(), port)));
  else
    identity.reset(g_network_address_new(server_name.c_str(), port));
  GError* error = nullptr;
  state->tls.reset(g_tls_client_connection_new(base, identity.get(), &error));
  if (!state->tls) return fail_now(peer, error, done);
  GTlsConnection* tls = G_TLS_CONNECTION(state->tls.get());
  g_tls_connection_set_database(tls, options.credentials->database());
  if (options.credentials->certificate())
    g_tls_connection_set_certificate(tls, options.credentials->certificate());
  // Our own framing tells where messages end; a peer that just drops the TCP
  // connection (QEMU on shutdown) is an ordinary disconnect, not an attack.
  g_tls_connection_set_require_close_notify(tls, FALSE);
  state->done = std::move(done);
  state->start(timeout);
  return std::make_shared<TlsHandshake>(state);
}

std::shared_ptr<TlsHandshake> TlsHandshake::server(GIOStream* base, const TlsServerOptions& options,
                                                   const std::string& peer, std::chrono::seconds timeout,
                                                   Done done) {
  auto state = std::make_shared<State>();
  state->server = true;
  state->peer = "client " + peer;
  state->ca_path = ca_path_of(*options.credentials);
  state->crl_path = crl_path_of(*options.credentials);
  state->have_certificate = true;
  GError* error = nullptr;
  state->tls.reset(g_tls_server_connection_new(base, options.credentials->certificate(), &error));
  if (!state->tls) return fail_now(peer, error, done);
  GTlsConnection* tls = G_TLS_CONNECTION(state->tls.get());
  g_tls_connection_set_database(tls, options.credentials->database());
  g_object_set(tls, "authentication-mode",
               options.verify_peer ? G_TLS_AUTHENTICATION_REQUIRED : G_TLS_AUTHENTICATION_NONE, nullptr);
  g_tls_connection_set_require_close_notify(tls, FALSE);
  state->done = std::move(done);
  state->start(timeout);
  return std::make_shared<TlsHandshake>(state);
}

void TlsHandshake::cancel() {
  state_->cancelled = true;
  state_->timer.reset();
  if (state_->hello_source) {
    // Not in glib-networking's hands yet: nothing will call back.
    state_->hello_source.reset();
    state_->self.reset();
    return;
  }
  g_cancellable_cancel(state_->cancellable.get());
}

TlsHandshake::~TlsHandshake() = default;

}  // namespace vscard::transport
