// SPDX-License-Identifier: LGPL-2.1-or-later
// Listener: GSocketListener + accept loop + optional TLS (see vscard/listener.h).
#define G_LOG_DOMAIN "vscard"
#include "vscard/listener.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include <list>

#include "transport/socket_util.h"
#include "transport/tls_handshake.h"
#include "vscard/glib_ptr.h"
#include "vscard/transport_error.h"

namespace vscard {

struct Listener::Impl : std::enable_shared_from_this<Impl> {
  Options options;
  AcceptHandler on_accept;
  RejectHandler on_reject;
  GObjectPtr<GSocketListener> listener{g_socket_listener_new()};
  GObjectPtr<GCancellable> cancellable{g_cancellable_new()};
  std::vector<Address> local;
  std::string unix_path;  // to unlink on destruction
  std::shared_ptr<Impl> accept_ref;
  std::list<std::shared_ptr<transport::TlsHandshake>> handshakes;
  bool stopped = false;

  void accept_next() {
    accept_ref = shared_from_this();
    g_socket_listener_accept_async(listener.get(), cancellable.get(), &Impl::accepted, this);
  }

  static void accepted(GObject* source, GAsyncResult* result, gpointer data) {
    auto self = std::move(static_cast<Impl*>(data)->accept_ref);
    GErrorPtr error;
    GObjectPtr<GSocketConnection> connection(
        g_socket_listener_accept_finish(G_SOCKET_LISTENER(source), result, nullptr, error.out()));
    if (self->stopped) return;
    if (!connection) {
      // EMFILE and friends: report, and keep accepting (the condition may pass).
      if (self->on_reject) self->on_reject("?", error.get());
    } else {
      self->handle(G_IO_STREAM(connection.get()));
    }
    if (!self->stopped) self->accept_next();
  }

  void handle(GIOStream* stream) {
    const std::string peer = transport::describe_peer(stream);
    if (options.admit && !options.admit(peer, handshakes.size())) {
      g_io_stream_close(stream, nullptr, nullptr);
      return;
    }
    if (!options.tls) return deliver(stream, peer);
    auto it = handshakes.emplace(handshakes.end());
    std::weak_ptr<Impl> weak = shared_from_this();
    *it = transport::TlsHandshake::server(
        stream, *options.tls, peer, options.handshake_timeout,
        [weak, it, peer](GObjectPtr<GIOStream> tls, GErrorPtr error) {
          auto self = weak.lock();
          if (!self || self->stopped) return;
          if (tls) self->deliver(tls.get(), peer);
          else if (self->on_reject) self->on_reject(peer, error.get());
          if (*it) self->handshakes.erase(it);  // null if it failed before returning
        });
    if (!*it) handshakes.erase(it);
  }

  void deliver(GIOStream* stream, const std::string& peer) {
    GErrorPtr error;
    auto connection = Connection::adopt(stream, options.connection, error.out());
    if (!connection) {
      if (on_reject) on_reject(peer, error.get());
      return;
    }
    on_accept(std::move(connection));
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    g_cancellable_cancel(cancellable.get());
    for (auto& h : handshakes)
      if (h) h->cancel();
    handshakes.clear();
    g_socket_listener_close(listener.get());
    if (!unix_path.empty()) unlink(unix_path.c_str());
  }
};

namespace {

bool listen_error(GError** error, GError* source, const Address& address) {
  transport::propagate_prefixed(error, source, "cannot listen on " + address.to_string(),
                                transport::explain_io_error(source).c_str());
  return false;
}

// A Unix socket file left by a process that died is replaced (QEMU unlinks the
// path before binding too); one that still accepts connections is in use.
bool clear_stale_socket(const std::string& path, const Address& address, GError** error) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return true;
  if (!S_ISSOCK(st.st_mode)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "cannot listen on %s: the file exists and is not a socket",
                address.to_string().c_str());
    return false;
  }
  GObjectPtr<GSocket> probe(g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, nullptr));
  GObjectPtr<GSocketAddress> target(g_unix_socket_address_new(path.c_str()));
  if (probe && g_socket_connect(probe.get(), target.get(), nullptr, nullptr)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                "cannot listen on %s: address already in use (another program is listening there)",
                address.to_string().c_str());
    return false;
  }
  unlink(path.c_str());
  return true;
}

// What binding fills in: the listener's socket set and its bound addresses.
struct Binding {
  GSocketListener* listener;
  std::vector<Address>& local;
  std::string& unix_path;  // to unlink on destruction
};

bool bind_one(Binding& impl, GSocketAddress* socket_address, const Address& address, GError** error) {
  GSocketAddress* effective = nullptr;
  GError* local = nullptr;
  if (!g_socket_listener_add_address(impl.listener, socket_address, G_SOCKET_TYPE_STREAM,
                                     G_SOCKET_PROTOCOL_DEFAULT, nullptr, &effective, &local))
    return listen_error(error, local, address);
  GObjectPtr<GSocketAddress> owned(effective);
  if (G_IS_INET_SOCKET_ADDRESS(effective)) {
    auto* inet = G_INET_SOCKET_ADDRESS(effective);
    gchar* host = g_inet_address_to_string(g_inet_socket_address_get_address(inet));
    impl.local.push_back(Address::tcp(host, g_inet_socket_address_get_port(inet)));
    g_free(host);
  } else {
    impl.local.push_back(address);
  }
  return true;
}

bool bind_all(Binding& impl, const Address& address, GError** error) {
  if (address.is_unix()) {
    if (!clear_stale_socket(address.path, address, error)) return false;
    GObjectPtr<GSocketAddress> sa(g_unix_socket_address_new(address.path.c_str()));
    if (!bind_one(impl, sa.get(), address, error)) return false;
    impl.unix_path = address.path;
    return true;
  }
  if (address.host.empty()) {
    // Every local address, IPv6 and IPv4 (GIO binds both families).
    GError* local = nullptr;
    guint16 port = address.port;
    if (port == 0) port = g_socket_listener_add_any_inet_port(impl.listener, nullptr, &local);
    else if (!g_socket_listener_add_inet_port(impl.listener, port, nullptr, &local)) port = 0;
    if (port == 0) return listen_error(error, local, address);
    impl.local.push_back(Address::tcp("", port));
    return true;
  }
  // A literal address, or a name resolved now (startup; blocking is fine here).
  GList* addresses = nullptr;
  if (GObjectPtr<GInetAddress> literal(g_inet_address_new_from_string(address.host.c_str())); literal) {
    addresses = g_list_append(nullptr, literal.release());
  } else {
    GObjectPtr<GResolver> resolver(g_resolver_get_default());
    GError* local = nullptr;
    addresses = g_resolver_lookup_by_name(resolver.get(), address.host.c_str(), nullptr, &local);
    if (!addresses) return listen_error(error, local, address);
  }
  bool ok = true;
  std::uint16_t port = address.port;
  for (GList* l = addresses; l && ok; l = l->next) {
    // With port 0 every address of the name gets the port the first one got.
    GObjectPtr<GSocketAddress> sa(g_inet_socket_address_new(G_INET_ADDRESS(l->data), port));
    ok = bind_one(impl, sa.get(), address, error);
    if (ok) port = impl.local.back().port;
  }
  g_resolver_free_addresses(addresses);
  return ok;
}

}  // namespace

std::unique_ptr<Listener> Listener::create(const Address& address, Options options, AcceptHandler on_accept,
                                           RejectHandler on_reject, GError** error) {
  auto impl = std::make_shared<Impl>();
  if (options.tls && (!options.tls->credentials ||
                      options.tls->credentials->endpoint() != TlsCredentials::Endpoint::Server)) {
    set_transport_error(error, TransportError::TlsCredentials,
                        "TLS credentials for a listener must be loaded with Endpoint::Server");
    return nullptr;
  }
  impl->options = std::move(options);
  impl->on_accept = std::move(on_accept);
  impl->on_reject = std::move(on_reject);
  g_socket_listener_set_backlog(impl->listener.get(), impl->options.backlog);
  Binding binding{impl->listener.get(), impl->local, impl->unix_path};
  if (!bind_all(binding, address, error)) {
    impl->stop();
    return nullptr;
  }
  impl->accept_next();
  std::unique_ptr<Listener> listener(new Listener());
  listener->impl_ = std::move(impl);
  return listener;
}

Listener::~Listener() { impl_->stop(); }

const std::vector<Address>& Listener::local_addresses() const { return impl_->local; }
std::uint16_t Listener::port() const { return impl_->local.empty() ? 0 : impl_->local.front().port; }

}  // namespace vscard
