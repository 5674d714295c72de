// SPDX-License-Identifier: LGPL-2.1-or-later
// The programs' log (vscclient and vschost): GLib structured logging, one line
// per entry on stderr in one format, PROGRAM being the program's name:
//   PROGRAM: connected to qemu-host:2001
//   PROGRAM: warning: cannot connect to qemu-host:2001: connection refused ...
//   PROGRAM: error: TLS credentials: /etc/vscard/tls/ca-cert.pem: ...
//   PROGRAM: debug: libcacard: ...      (another domain is named after the level)
// Never on stdout, whatever the level: stdout carries results (reports,
// console replies). Peer text is escaped (vscard::printable). Under systemd
// (stderr is the journal) entries go to journald with their fields instead.
// Levels:
//   0: messages, warnings and errors
//   1: + debug and info from the program and libvscard (domains PROGRAM, "vscard")
//   2 and up: + debug and info from every domain
#pragma once

#include <string>

namespace programs {

// The line for one entry (without the newline): "PROGRAM: warning: ..."
// `domain` other than `program` is named; `domain` and `message` are escaped.
std::string format_log_line(const std::string& program, bool error, bool warning, bool debug,
                            const std::string& domain, const std::string& message);

// Installs the writer for the whole process. `program` (a string literal: it
// is kept) names the lines and is the program's own log domain.
void install_log_writer(const char* program, int level);
void set_log_level(int level);
int log_level();

// "PROGRAM: error: TEXT", through the writer: the line a fatal error ends with.
void print_error(const std::string& text);

}  // namespace programs
