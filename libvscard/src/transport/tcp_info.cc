// SPDX-License-Identifier: LGPL-2.1-or-later
// tcp_peer_sent_data (socket_util.h). Alone in its file: the kernel's
// struct tcp_info (linux/tcp.h) has the counters glibc's copy in
// netinet/tcp.h lacks, and the two headers cannot share a file.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

#include "transport/socket_util.h"

namespace vscard::transport {

std::optional<bool> tcp_peer_sent_data(GSocket* socket) {
  if (socket == nullptr || g_socket_get_family(socket) == G_SOCKET_FAMILY_UNIX) return std::nullopt;
  tcp_info info{};
  socklen_t size = sizeof info;
  if (getsockopt(g_socket_get_fd(socket), IPPROTO_TCP, TCP_INFO, &info, &size) != 0) {
    return std::nullopt;
  }
  // Segments carrying data, not bytes: tcpi_bytes_received counts sequence
  // numbers, and the peer's FIN takes one (Linux net/ipv4/tcp_input.c,
  // tcp_rcv_nxt_update), so a peer that closed without a word reads 1.
  // tcpi_data_segs_in came with Linux 4.6; an older kernel fills less.
  if (size < offsetof(tcp_info, tcpi_data_segs_in) + sizeof info.tcpi_data_segs_in) {
    return std::nullopt;
  }
  return info.tcpi_data_segs_in != 0;
}

}  // namespace vscard::transport
