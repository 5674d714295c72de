// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient's log: GLib structured logging, one line per entry on stderr in one
// format (vscclient(1), DIAGNOSTICS):
//   vscclient: connected to qemu-host:2001
//   vscclient: warning: cannot connect to qemu-host:2001: connection refused ...
//   vscclient: error: TLS credentials: /etc/vscard/tls/ca-cert.pem: ...
//   vscclient: debug: libcacard: ...      (another domain is named after the level)
// Peer text is escaped (vscard::printable). Under systemd (stderr is the
// journal) entries go to journald with their fields instead.
// Levels (-v/-d, stdin `debug N`):
//   0: messages, warnings and errors
//   1: + debug from vscclient and libvscard ("vscclient", "vscard" domains)
//   2 and up: + debug from every domain, libcacard's included
#pragma once

#include <string>

namespace vscclient {

// The line for one entry (without the newline): "vscclient: warning: ..."
// `domain` other than "vscclient" is named; `message` is escaped.
std::string format_log_line(bool error, bool warning, bool debug, const std::string& domain,
                            const std::string& message);

// "vscclient: error: TEXT": the line a fatal error ends with.
void print_error(const std::string& text);

void install_log_writer(int level);
void set_log_level(int level);
int log_level();

}  // namespace vscclient
