// SPDX-License-Identifier: LGPL-2.1-or-later
// The client side of TLS handshakes, with clear verdicts (see tls_handshake.h;
// the server side is tls_server_handshake.cc).
//
// Certificate checks: GIO verifies the server against the database
// (ca-cert.pem) and its identity. Any failure is reported to the
// "accept-certificate" signal with GTlsCertificateFlags; we record the flags,
// refuse, and build the message from them, because the handshake error itself
// only says "Unacceptable TLS certificate".
#define G_LOG_DOMAIN "vscard"
#include "transport/tls_handshake.h"

#include <string>

#include "transport/socket_util.h"
#include "transport/tls_crl.h"
#include "vscard/transport_error.h"

namespace vscard::transport {

struct ClientHandshake : std::enable_shared_from_this<ClientHandshake> {
  std::string peer;         // for messages
  std::string server_name;  // the name checked
  std::string ca_path;
  std::string crl_path;  // ca-crl.pem beside ca_path, if the file exists
  bool have_certificate = false;
  GObjectPtr<GIOStream> tls;
  GObjectPtr<GCancellable> cancellable{g_cancellable_new()};
  GSourcePtr timer;
  GSocket* socket = nullptr;  // the TCP socket under `tls` (null: not one)
  GSourcePtr hello_timer;     // kTlsHelloAnswerBound
  bool no_answer = false;     // not one byte from the server in that time
  GTlsCertificateFlags rejected = static_cast<GTlsCertificateFlags>(0);
  bool timed_out = false;
  bool cancelled = false;
  TlsHandshake::Done done;
  std::shared_ptr<ClientHandshake> self;  // while the handshake runs

  void cancel();

  static gboolean on_accept_certificate(GTlsConnection*, GTlsCertificate*, GTlsCertificateFlags errors,
                                        gpointer data) {
    // A client connection only asks about failed certificates; never accept
    // one that failed a check.
    static_cast<ClientHandshake*>(data)->rejected = errors;
    return errors == 0;
  }

  static gboolean on_timeout(gpointer data) {
    auto* state = static_cast<ClientHandshake*>(data);
    state->timed_out = true;
    g_cancellable_cancel(state->cancellable.get());
    return G_SOURCE_REMOVE;
  }

  static gboolean on_hello_timer(gpointer data) {
    auto* state = static_cast<ClientHandshake*>(data);
    auto sent = tcp_peer_sent_data(state->socket);
    if (sent && !*sent) {
      state->no_answer = true;
      g_cancellable_cancel(state->cancellable.get());
    }
    state->hello_timer.reset();
    return G_SOURCE_REMOVE;
  }

  void start(std::chrono::seconds timeout) {
    self = shared_from_this();
    if (socket != nullptr && (timeout.count() == 0 || timeout > kTlsHelloAnswerBound)) {
      hello_timer.reset(g_timeout_source_new(
          static_cast<guint>(std::chrono::milliseconds(kTlsHelloAnswerBound).count())));
      g_source_set_callback(hello_timer.get(), &ClientHandshake::on_hello_timer, this, nullptr);
      g_source_attach(hello_timer.get(), g_main_context_get_thread_default());
    }
    g_signal_connect(tls.get(), "accept-certificate", G_CALLBACK(&ClientHandshake::on_accept_certificate), this);
    if (timeout.count() > 0) {
      timer.reset(g_timeout_source_new_seconds(static_cast<guint>(timeout.count())));
      g_source_set_callback(timer.get(), &ClientHandshake::on_timeout, this, nullptr);
      g_source_attach(timer.get(), g_main_context_get_thread_default());
    }
    g_tls_connection_handshake_async(G_TLS_CONNECTION(tls.get()), G_PRIORITY_DEFAULT, cancellable.get(),
                                     &ClientHandshake::handshake_done, this);
  }

  static void handshake_done(GObject* source, GAsyncResult* result, gpointer data) {
    auto state = std::move(static_cast<ClientHandshake*>(data)->self);
    state->timer.reset();
    state->hello_timer.reset();
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
  static const char* whose() { return "the server certificate"; }

  void explain(const GError* error, GError** out) const {
    const std::string prefix = "TLS handshake with " + peer + " failed: ";
    auto set = [&](TransportError code, const std::string& text) {
      set_transport_error(out, code, (prefix + text).c_str());
    };
    // A plaintext VSCard host reads our hello as a message header and waits
    // for the rest: it never answers (QEMU's passthru, vschost without TLS).
    if (no_answer) {
      return set(TransportError::TlsNoAnswer,
                 "the host sent nothing in " + std::to_string(kTlsHelloAnswerBound.count()) +
                     " s after our TLS hello: it does not answer TLS, and may be a plaintext "
                     "VSCard host");
    }
    if (timed_out || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
      return set(TransportError::TlsNoAnswer,
                 "no answer to our TLS hello (does the host speak TLS at all?)");
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
    if (g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED))
      return set(TransportError::TlsNoClientCertificate, kClientCertificateRequired);
    if (g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS)) {
      // GIO says NOT_TLS also when the host closed before answering at all,
      // which a TLS host does when it turns clients away (vschost at
      // --max-clients): only bytes that were not TLS mean "not TLS".
      const auto sent = tcp_peer_sent_data(socket);
      if (sent && !*sent)
        return set(TransportError::TlsHandshake,
                   "the host closed the connection before answering our TLS hello (it may be "
                   "serving its maximum number of clients, or refuse this address)");
      return set(TransportError::TlsHandshake, "the peer does not speak TLS");
    }
    std::string text = error ? error->message : "unknown error";
    if (!have_certificate && error && error->domain == G_TLS_ERROR)
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
  auto state = std::make_shared<ClientHandshake>();
  state->peer = peer;
  state->server_name = server_name;
  state->ca_path = ca_path_of(*options.credentials);
  state->crl_path = crl_path_of(*options.credentials);
  state->have_certificate = options.credentials->certificate() != nullptr;
  if (G_IS_SOCKET_CONNECTION(base)) {
    state->socket = g_socket_connection_get_socket(G_SOCKET_CONNECTION(base));
  }
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
  return std::make_shared<TlsHandshake>([state] { state->cancel(); });
}

void ClientHandshake::cancel() {
  cancelled = true;
  timer.reset();
  hello_timer.reset();
  g_cancellable_cancel(cancellable.get());
}

}  // namespace vscard::transport
