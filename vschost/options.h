// SPDX-License-Identifier: LGPL-2.1-or-later
// vschost's command line (GOption): parsed and checked, or one error line.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "report.h"
#include "vscard/host_session.h"

namespace vschost {

struct Options {
  std::vector<std::string> listen;  // address texts (default 127.0.0.1:2001)
  std::string tls_creds;
  vscard::HostPolicy::Mode mode = vscard::HostPolicy::Mode::Qemu;
  unsigned max_readers = 4;
  unsigned max_clients = 0;
  std::string script;
  ReportOptions report;
  bool report_given = false;
  bool once = false;
  double timeout_seconds = 0;  // 0: none
  std::chrono::seconds tls_handshake_timeout{10};  // --tls-handshake-timeout
  int verbose = 0;
  bool log_pins = false;       // --log-pins: PIN commands unredacted in the JSON events
  bool interactive = false;    // stdin is a terminal, or --interactive
  // --export-pcsc[=HOST:PORT]: hand cards to pcscd through vpcd (vpcd_export.h);
  // nullopt: off; empty: vpcd's default address. Checked by VpcdExport::parse.
  std::optional<std::string> export_pcsc;
  unsigned export_slots = 2;   // --export-slots
  // --vpcd-first-port: the port of vpcd's slot 0 as pcscd's reader
  // configuration sets it (Debian's: 35963), for the reader-in-use mapping.
  unsigned vpcd_first_port = 35963;
};

inline constexpr const char* kDefaultListen = "127.0.0.1:2001";

// Parses argv. On --help prints and sets `exit_now` (status 0). On a usage error
// returns nullopt with `error` set to one line.
std::optional<Options> parse_options(int argc, char** argv, std::string& error, bool& exit_now);

}  // namespace vschost
