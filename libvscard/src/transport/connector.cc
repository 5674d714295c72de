// SPDX-License-Identifier: LGPL-2.1-or-later
// Connector: connect attempts with capped exponential backoff (see vscard/connector.h).
#define G_LOG_DOMAIN "vscard"
#include "vscard/connector.h"

#include <algorithm>
#include <cmath>

#include "transport/socket_connect.h"
#include "transport/socket_util.h"
#include "transport/tls_handshake.h"
#include "vscard/glib_ptr.h"
#include "vscard/transport_error.h"

namespace vscard {

std::chrono::milliseconds Backoff::delay(unsigned retry, double random01) const {
  const double base = static_cast<double>(initial.count()) *
                      std::pow(std::max(1.0, multiplier), static_cast<double>(std::min(retry, 64u)));
  const double capped = std::min(base, static_cast<double>(max.count()));
  const double j = std::clamp(jitter, 0.0, 1.0);
  const double scaled = capped * (1.0 - j + 2.0 * j * std::clamp(random01, 0.0, 1.0));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(scaled)));
}

struct Connector::Impl : std::enable_shared_from_this<Impl> {
  Options options;
  ConnectedHandler on_connected;
  FailedHandler on_failed;
  std::unique_ptr<transport::SocketConnect> direct;  // the attempt without a name lookup
  GObjectPtr<GSocketClient> client;  // one per attempt with a name: identifies stale completions
  GObjectPtr<GCancellable> cancellable;
  GSourcePtr timer;
  std::shared_ptr<transport::TlsHandshake> handshake;
  // Keeps the Impl alive while GIO still owes us callbacks (a cancelled
  // connect is reported after the Connector may be gone).
  std::shared_ptr<Impl> keep_alive;
  unsigned pending_connects = 0;
  unsigned generation = 0;   // bumped by stop(): stale completions are ignored
  unsigned failures = 0;     // consecutive failed attempts
  unsigned retry_index = 0;  // position in the backoff sequence
  bool connecting = false;
  gint64 connected_at = 0;   // monotonic µs of the last success, 0 if none
  bool session_worked = false;  // session_established() on the last connection
  GRand* rand = g_rand_new();

  ~Impl() { g_rand_free(rand); }

  std::string target() const { return options.address.to_string(); }

  void attempt() {
    timer.reset();
    connecting = true;
    // An IP literal or a Unix path: connected on this thread, no GTask (see
    // socket_connect.h). stop() cancels it by dropping it.
    direct = transport::SocketConnect::start(
        options.address, options.timeout, g_main_context_get_thread_default(),
        [this](GObjectPtr<GSocketConnection> connection, GErrorPtr error) {
          auto self = shared_from_this();  // the handlers may drop the Connector
          direct.reset();
          connected(std::move(connection), std::move(error));
        });
    if (direct) return;
    cancellable.reset(g_cancellable_new());
    client.reset(g_socket_client_new());
    g_socket_client_set_timeout(client.get(), static_cast<guint>(options.timeout.count()));
    // A VSCard host (QEMU's chardev socket, vschost) is reached directly, as
    // QEMU and libcacard's vscclient do. GIO's default would ask the system
    // proxy resolver first, at every attempt: that loads GIO's proxy modules
    // (libproxy, GNOME's, which starts GSettings and a dconf thread) and runs
    // the lookup on a thread-pool thread -- about 5 MB of RSS and two threads
    // for nothing (tests/bench --reference, issue 19).
    g_socket_client_set_enable_proxy(client.get(), FALSE);
    GObjectPtr<GSocketConnectable> connectable(
        g_network_address_new(options.address.host.c_str(), options.address.port));
    keep_alive = shared_from_this();
    ++pending_connects;
    g_socket_client_connect_async(client.get(), connectable.get(), cancellable.get(),
                                  &Impl::resolved_and_connected, this);
  }

  static void resolved_and_connected(GObject* source, GAsyncResult* result, gpointer data) {
    auto self = static_cast<Impl*>(data)->shared_from_this();
    if (--self->pending_connects == 0) self->keep_alive.reset();
    GErrorPtr error;
    GObjectPtr<GSocketConnection> connection(
        g_socket_client_connect_finish(G_SOCKET_CLIENT(source), result, error.out()));
    if (G_SOCKET_CLIENT(source) != self->client.get()) return;  // stopped or superseded meanwhile
    self->client.reset();
    self->connected(std::move(connection), std::move(error));
  }

  // The socket is connected (or not): TLS handshake, or the connection.
  void connected(GObjectPtr<GSocketConnection> connection, GErrorPtr error) {
    // failed() words it ("cannot connect to TARGET: ..."); prefixing here too
    // printed the target twice.
    if (!connection) return failed(std::move(error), true);
    if (!options.tls) return succeeded(G_IO_STREAM(connection.get()));
    const auto& tls = *options.tls;
    const std::string name = !tls.hostname.empty()      ? tls.hostname
                             : options.address.is_unix() ? std::string("localhost")
                                                         : options.address.host;
    const unsigned current = generation;
    std::weak_ptr<Impl> weak = shared_from_this();
    handshake = transport::TlsHandshake::client(
        G_IO_STREAM(connection.get()), tls, name, options.address.port, target(), options.timeout,
        [weak, current](GObjectPtr<GIOStream> stream, GErrorPtr error) {
          auto impl = weak.lock();
          if (!impl || impl->generation != current) return;
          impl->handshake.reset();
          if (stream) impl->succeeded(stream.get());
          else impl->failed(std::move(error), false);
        });
  }

  void succeeded(GIOStream* stream) {
    GErrorPtr error;
    auto connection = Connection::adopt(stream, options.connection, error.out());
    if (!connection) return failed(std::move(error), false);
    connecting = false;
    failures = 0;
    connected_at = g_get_monotonic_time();
    session_worked = false;
    on_connected(std::move(connection));
  }

  void failed(GErrorPtr error, bool io_error) {
    if (io_error && error->domain != VSCARD_TRANSPORT_ERROR) {
      // Replace GIO's wording ("Could not connect to 127.0.0.1: Connection refused")
      // with ours, keeping domain and code.
      GErrorPtr plain;
      g_set_error(plain.out(), error->domain, error->code, "cannot connect to %s: %s", target().c_str(),
                  transport::explain_io_error(error.get()).c_str());
      error = std::move(plain);
    }
    ++failures;
    connecting = false;
    if (options.max_attempts != 0 && failures >= options.max_attempts) {
      if (on_failed) on_failed(error.get(), std::nullopt);
      return;
    }
    const auto delay = schedule();
    if (on_failed) on_failed(error.get(), delay);
  }

  std::chrono::milliseconds schedule() {
    const auto delay = options.backoff.delay(retry_index++, g_rand_double(rand));
    timer.reset(g_timeout_source_new(static_cast<guint>(delay.count())));
    g_source_set_callback(timer.get(), &Impl::fire, this, nullptr);
    g_source_attach(timer.get(), g_main_context_get_thread_default());
    connecting = true;
    return delay;
  }

  static gboolean fire(gpointer data) {
    auto self = static_cast<Impl*>(data)->shared_from_this();
    GSource* source = self->timer.release();  // the source is removed by returning REMOVE
    self->attempt();
    g_source_unref(source);
    return G_SOURCE_REMOVE;
  }

  void stop() {
    ++generation;
    direct.reset();
    client.reset();
    timer.reset();
    if (cancellable) g_cancellable_cancel(cancellable.get());
    if (handshake) handshake->cancel();
    handshake.reset();
    connecting = false;
  }
};

Connector::Connector(Options options, ConnectedHandler on_connected, FailedHandler on_failed)
    : impl_(std::make_shared<Impl>()) {
  impl_->options = std::move(options);
  impl_->on_connected = std::move(on_connected);
  impl_->on_failed = std::move(on_failed);
}

Connector::~Connector() { impl_->stop(); }

void Connector::start() {
  impl_->stop();
  impl_->failures = 0;
  impl_->retry_index = 0;
  if (impl_->options.tls && (!impl_->options.tls->credentials ||
                             impl_->options.tls->credentials->endpoint() != TlsCredentials::Endpoint::Client)) {
    GErrorPtr error;
    set_transport_error(error.out(), TransportError::TlsCredentials,
                        "TLS credentials for a connector must be loaded with Endpoint::Client");
    if (impl_->on_failed) impl_->on_failed(error.get(), std::nullopt);
    return;
  }
  if (!impl_->options.address.is_unix() && impl_->options.address.port == 0) {
    GErrorPtr error;
    set_transport_error(error.out(), TransportError::InvalidAddress,
                        ("cannot connect to " + impl_->target() + ": port 0 is not a port to connect to").c_str());
    if (impl_->on_failed) impl_->on_failed(error.get(), std::nullopt);
    return;
  }
  impl_->attempt();
}

void Connector::session_established() { impl_->session_worked = true; }

std::chrono::milliseconds Connector::reconnect() {
  impl_->stop();
  const gint64 lived = g_get_monotonic_time() - impl_->connected_at;
  const bool stable =
      impl_->connected_at != 0 &&
      lived >= std::chrono::duration_cast<std::chrono::microseconds>(impl_->options.stable_after).count();
  if (impl_->session_worked || stable) impl_->retry_index = 0;
  impl_->session_worked = false;  // counts once: the next loss is judged afresh
  return impl_->schedule();
}

void Connector::stop() { impl_->stop(); }
bool Connector::active() const { return impl_->connecting; }
const Connector::Options& Connector::options() const { return impl_->options; }

bool transport_error_is_permanent(const GError* error) {
  if (error == nullptr || error->domain != VSCARD_TRANSPORT_ERROR) return false;
  switch (static_cast<TransportError>(error->code)) {
    case TransportError::InvalidAddress:
    case TransportError::InvalidKeepalive:
    case TransportError::TlsUnavailable:
    case TransportError::TlsCredentials:
    case TransportError::TlsUnknownCa:
    case TransportError::TlsNameMismatch:
    case TransportError::TlsExpired:
    case TransportError::TlsRevoked:
    case TransportError::TlsBadCertificate:
    case TransportError::TlsNoClientCertificate:
      return true;
    default:
      return false;
  }
}

}  // namespace vscard
