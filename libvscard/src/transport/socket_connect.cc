// SPDX-License-Identifier: LGPL-2.1-or-later
// A non-blocking connect without GTask (see socket_connect.h).
#define G_LOG_DOMAIN "vscard"
#include "transport/socket_connect.h"

#include <gio/gunixsocketaddress.h>

#include <utility>

namespace vscard::transport {

std::unique_ptr<SocketConnect> SocketConnect::start(const Address& address,
                                                    std::chrono::seconds timeout,
                                                    GMainContext* context, Done done) {
  GObjectPtr<GSocketAddress> target(
      address.is_unix() ? g_unix_socket_address_new(address.path.c_str())
                        : g_inet_socket_address_new_from_string(address.host.c_str(), address.port));
  if (!target) return nullptr;  // a name: GSocketClient resolves it

  std::unique_ptr<SocketConnect> self(new SocketConnect());
  self->done_ = std::move(done);
  GErrorPtr error;
  self->socket_.reset(g_socket_new(g_socket_address_get_family(target.get()), G_SOCKET_TYPE_STREAM,
                                   G_SOCKET_PROTOCOL_DEFAULT, error.out()));
  if (self->socket_) {
    g_socket_set_blocking(self->socket_.get(), FALSE);
    // As GSocketClient does: the socket source then fires after `timeout` and
    // g_socket_check_connect_result() says G_IO_ERROR_TIMED_OUT. The timeout
    // is taken off again when the connection is adopted (apply_tcp_options).
    g_socket_set_timeout(self->socket_.get(), static_cast<guint>(timeout.count()));
    if (g_socket_connect(self->socket_.get(), target.get(), nullptr, error.out()) ||
        g_error_matches(error.get(), G_IO_ERROR, G_IO_ERROR_PENDING)) {
      // Connected at once (a Unix socket, often) or in progress: either way
      // the socket turns writable, and the answer comes from the loop.
      self->source_.reset(g_socket_create_source(self->socket_.get(), G_IO_OUT, nullptr));
      g_source_set_callback(self->source_.get(), G_SOURCE_FUNC(&SocketConnect::writable),
                            self.get(), nullptr);
      g_source_attach(self->source_.get(), context);
      return self;
    }
  }
  self->failure_ = std::move(error);
  self->source_.reset(g_timeout_source_new(0));
  g_source_set_callback(self->source_.get(), &SocketConnect::report_failure, self.get(), nullptr);
  g_source_attach(self->source_.get(), context);
  return self;
}

gboolean SocketConnect::writable(GSocket* socket, GIOCondition, gpointer data) {
  auto* self = static_cast<SocketConnect*>(data);
  GErrorPtr error;
  if (!g_socket_check_connect_result(socket, error.out())) {
    self->finish(nullptr, std::move(error));
    return G_SOURCE_REMOVE;
  }
  self->finish(GObjectPtr<GSocketConnection>(g_socket_connection_factory_create_connection(socket)),
               GErrorPtr());
  return G_SOURCE_REMOVE;
}

gboolean SocketConnect::report_failure(gpointer data) {
  auto* self = static_cast<SocketConnect*>(data);
  self->finish(nullptr, std::move(self->failure_));
  return G_SOURCE_REMOVE;
}

// The last thing a callback does: `done` may destroy this object (and with it
// the source being dispatched, which GLib allows).
void SocketConnect::finish(GObjectPtr<GSocketConnection> connection, GErrorPtr error) {
  auto done = std::move(done_);
  done(std::move(connection), std::move(error));
}

}  // namespace vscard::transport
