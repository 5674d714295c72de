// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient's log: the programs' shared writer (program_common/program_log.h)
// under the name "vscclient" (vscclient(1), DIAGNOSTICS):
//   vscclient: connected to qemu-host:2001
//   vscclient: warning: cannot connect to qemu-host:2001: connection refused ...
//   vscclient: error: TLS credentials: /etc/vscard/tls/ca-cert.pem: ...
//   vscclient: debug: libcacard: ...      (another domain is named after the level)
// Levels (-v/-d, stdin `debug N`):
//   0: messages, warnings and errors
//   1: + debug from vscclient and libvscard ("vscclient", "vscard" domains)
//   2 and up: + debug from every domain, libcacard's included
#pragma once

#include "program_log.h"

namespace vscclient {

using programs::log_level;
using programs::print_error;
using programs::set_log_level;

inline void install_log_writer(int level) { programs::install_log_writer("vscclient", level); }

}  // namespace vscclient
