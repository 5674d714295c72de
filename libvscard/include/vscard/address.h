// SPDX-License-Identifier: LGPL-2.1-or-later
// Where to connect or listen: a TCP host and port, or a Unix socket path.
//
// The text forms are the ones QEMU's `-chardev socket` users know:
//   host:port        "qemu-host:2001", "127.0.0.1:2001", ":2001" (listen: every address)
//   [v6]:port        "[::1]:2001", "[fe80::1%eth0]:2001"
//   unix:/path       "unix:/run/vscard.sock"
// plus the separate HOST PORT pair of libcacard's vscclient command line
// (Address::from_host_port("::1", "2001") -- no brackets needed there).
#pragma once

#include <glib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

struct Address {
  enum class Kind { Tcp, Unix };
  Kind kind = Kind::Tcp;
  // Tcp: a host name, an IPv4 literal or an IPv6 literal (without brackets);
  // empty means "every local address" when listening.
  std::string host;
  // Tcp: the port; 0 when listening asks the kernel for a free port.
  std::uint16_t port = 0;
  // Unix: the socket path.
  std::string path;

  // Parses one of the text forms above. On failure returns nullopt and sets
  // `error` (VSCARD_TRANSPORT_ERROR, InvalidAddress) to a message quoting `text`.
  static std::optional<Address> parse(std::string_view text, GError** error);
  // HOST and PORT as two arguments (vscclient's positional form). HOST may be
  // a name, an IPv4 or IPv6 literal (brackets allowed) or "unix:/path" (then
  // PORT must be empty).
  static std::optional<Address> from_host_port(std::string_view host, std::string_view port,
                                               GError** error);

  static Address tcp(std::string host, std::uint16_t port) {
    return Address{Kind::Tcp, std::move(host), port, {}};
  }
  static Address unix_path(std::string path) { return Address{Kind::Unix, {}, 0, std::move(path)}; }

  bool is_unix() const { return kind == Kind::Unix; }
  // Back to the text form: "host:port", "[::1]:port" or "unix:/path".
  std::string to_string() const;

  friend bool operator==(const Address&, const Address&) = default;
};

VSCARD_API_END
}  // namespace vscard
