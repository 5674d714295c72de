// SPDX-License-Identifier: LGPL-2.1-or-later
// tcp_bytes_received (socket_util.h). Alone in its file: the kernel's
// struct tcp_info (linux/tcp.h) has the byte counters glibc's copy in
// netinet/tcp.h lacks, and the two headers cannot share a file.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

#include "transport/socket_util.h"

namespace vscard::transport {

std::optional<std::uint64_t> tcp_bytes_received(GSocket* socket) {
  if (socket == nullptr || g_socket_get_family(socket) == G_SOCKET_FAMILY_UNIX) return std::nullopt;
  tcp_info info{};
  socklen_t size = sizeof info;
  if (getsockopt(g_socket_get_fd(socket), IPPROTO_TCP, TCP_INFO, &info, &size) != 0) {
    return std::nullopt;
  }
  // tcpi_bytes_received came with Linux 4.1; an older kernel fills less.
  if (size < offsetof(tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received) {
    return std::nullopt;
  }
  return info.tcpi_bytes_received;
}

}  // namespace vscard::transport
