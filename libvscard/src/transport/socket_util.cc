// SPDX-License-Identifier: LGPL-2.1-or-later
// Internal transport helpers (see socket_util.h).
#define G_LOG_DOMAIN "vscard"
#include "transport/socket_util.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <gio/gunixsocketaddress.h>

#include "transport/gnutls_stream.h"
#include "vscard/address.h"
#include "vscard/glib_ptr.h"

namespace vscard::transport {

GSocket* socket_of(GIOStream* stream) {
  if (stream == nullptr) return nullptr;
  if (G_IS_TLS_CONNECTION(stream)) {
    GIOStream* base = nullptr;
    g_object_get(stream, "base-io-stream", &base, nullptr);
    GObjectPtr<GIOStream> owned(base);
    return socket_of(base);  // the base stream outlives this call: the TLS connection holds it
  }
  if (GIOStream* base = gnutls_stream_base(stream)) return socket_of(base);
  if (G_IS_SOCKET_CONNECTION(stream)) return g_socket_connection_get_socket(G_SOCKET_CONNECTION(stream));
  return nullptr;
}

std::string describe(GSocketAddress* address) {
  if (address == nullptr) return "?";
  if (G_IS_INET_SOCKET_ADDRESS(address)) {
    auto* inet = G_INET_SOCKET_ADDRESS(address);
    gchar* text = g_inet_address_to_string(g_inet_socket_address_get_address(inet));
    Address a = Address::tcp(text, g_inet_socket_address_get_port(inet));
    g_free(text);
    return a.to_string();
  }
  if (G_IS_UNIX_SOCKET_ADDRESS(address)) {
    const char* path = g_unix_socket_address_get_path(G_UNIX_SOCKET_ADDRESS(address));
    return std::string("unix:") + (path ? path : "");
  }
  return "?";
}

std::string describe_peer(GIOStream* stream) {
  GSocket* socket = socket_of(stream);
  if (socket == nullptr) return "?";
  GObjectPtr<GSocketAddress> remote(g_socket_get_remote_address(socket, nullptr));
  std::string text = describe(remote.get());
  if (text == "unix:" || text == "?") {
    GObjectPtr<GSocketAddress> local(g_socket_get_local_address(socket, nullptr));
    const std::string mine = describe(local.get());
    if (mine != "?") text = mine;
  }
  return text;
}

bool apply_tcp_options(GSocket* socket, const std::optional<Keepalive>& keepalive, GError** error) {
  if (socket == nullptr) return true;
  // GSocketClient's timeout (Connector's per-attempt limit) stays on the socket
  // it creates as an I/O timeout: an idle session would then end with "read
  // failed: timed out" after that many seconds. Idle is normal for VSCard (a
  // card nobody uses); dead peers are keepalive's job.
  g_socket_set_timeout(socket, 0);
  const GSocketFamily family = g_socket_get_family(socket);
  if (family != G_SOCKET_FAMILY_IPV4 && family != G_SOCKET_FAMILY_IPV6) return true;
  // VSCard is request/response with small messages: Nagle's algorithm would
  // hold each APDU back waiting for the previous one's ACK.
  if (!g_socket_set_option(socket, IPPROTO_TCP, TCP_NODELAY, 1, error)) {
    g_prefix_error(error, "cannot set TCP_NODELAY: ");
    return false;
  }
  if (!keepalive) return true;
  g_socket_set_keepalive(socket, TRUE);
  struct {
    int option;
    int value;
    const char* name;
  } const options[] = {{TCP_KEEPIDLE, keepalive->idle, "TCP_KEEPIDLE"},
                       {TCP_KEEPINTVL, keepalive->interval, "TCP_KEEPINTVL"},
                       {TCP_KEEPCNT, keepalive->count, "TCP_KEEPCNT"}};
  for (const auto& o : options) {
    if (!g_socket_set_option(socket, IPPROTO_TCP, o.option, o.value, error)) {
      g_prefix_error(error, "cannot set %s to %d: ", o.name, o.value);
      return false;
    }
  }
  return true;
}

void propagate_prefixed(GError** dest, GError* source, const std::string& prefix, const char* text) {
  if (dest == nullptr) {
    g_error_free(source);
    return;
  }
  g_set_error(dest, source->domain, source->code, "%s: %s", prefix.c_str(),
              text ? text : source->message);
  g_error_free(source);
}

std::string explain_io_error(const GError* error) {
  if (error->domain == G_IO_ERROR) {
    switch (error->code) {
      case G_IO_ERROR_CONNECTION_REFUSED:
        return "connection refused (is vschost or QEMU listening there?)";
      case G_IO_ERROR_ADDRESS_IN_USE:
        return "address already in use (another program is listening there)";
      case G_IO_ERROR_TIMED_OUT:
        return "timed out";
      case G_IO_ERROR_HOST_UNREACHABLE:
        return "host unreachable";
      case G_IO_ERROR_NETWORK_UNREACHABLE:
        return "network unreachable";
      case G_IO_ERROR_BROKEN_PIPE:
        return "connection closed by the peer";
      case G_IO_ERROR_NOT_FOUND:
        return "no such socket file";
      case G_IO_ERROR_PERMISSION_DENIED:
        return "permission denied";
      default:
        break;
    }
  }
  if (error->domain == G_RESOLVER_ERROR) return std::string("unknown host (") + error->message + ")";
  return error->message;
}

}  // namespace vscard::transport
