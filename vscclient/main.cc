// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient: feeds smart cards to a VSCard host (QEMU's ccid-card-passthru).
#include <clocale>
#include <cstdio>
#include <string>

#include "app.h"
#include "card_sources.h"
#include "exit_cause.h"
#include "help_text.h"
#include "log.h"
#include "options.h"

int main(int argc, char** argv) {
  // The user's locale for text (GLib converts messages to its charset; without
  // this, quotes and other non-ASCII come out as '?') and GLib's translated
  // messages; every other category stays "C": reports and logs print decimals
  // with a point whatever LC_NUMERIC says, and the ten category files nothing
  // here reads are not mapped (100 KiB of RSS, issue 19).
  std::setlocale(LC_CTYPE, "");
  std::setlocale(LC_MESSAGES, "");
  std::string error;
  auto options = vscclient::parse_options(argc, argv, &error);
  if (!options) {
    std::fprintf(stderr, "vscclient: error: %s\nTry 'vscclient --help' for more information.\n",
                 error.c_str());
    return vscclient::exit_status(vscclient::ExitCause::Usage);
  }
  if (options->show_help) {
    std::fputs(vscclient::usage_text("vscclient").c_str(), stdout);
    return vscclient::exit_status(vscclient::ExitCause::Done);
  }
  if (options->show_version) {
    std::fputs(programs::version_text("vscclient", VSCCLIENT_VERSION).c_str(), stdout);
    return vscclient::exit_status(vscclient::ExitCause::Done);
  }
  vscclient::install_log_writer(options->debug_level);
  if (options->list) return vscclient::print_inventory(*options);
  vscclient::App app(std::move(*options));
  return app.run();
}
