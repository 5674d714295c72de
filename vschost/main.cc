// SPDX-License-Identifier: LGPL-2.1-or-later
// vschost: a VSCard host for testing smart-card clients (docs/vschost.md).
#define G_LOG_DOMAIN "vschost"

#include <glib-unix.h>
#include <glib.h>

#include <clocale>
#include <cstdio>
#include <memory>

#include "app.h"
#include "options.h"
#include "program_log.h"

int main(int argc, char** argv) {
  // The user's locale for text (GLib converts its messages to the locale's
  // charset: “quotes”, not "?") and GLib's translated messages; every other
  // category stays "C": the JSON and JUnit reports print decimals with a
  // point whatever LC_NUMERIC says (as in vscclient/main.cc).
  std::setlocale(LC_CTYPE, "");
  std::setlocale(LC_MESSAGES, "");
  // vscclient's log format ("vschost: warning: ...", vschost(1) DIAGNOSTICS):
  // every line on stderr (or the journal), debug included, since stdout
  // carries the reports (--report tap/json) and must hold nothing else; peer
  // text (reader names, addresses, TLS errors) escaped. -v raises the level
  // once the options are read (run()).
  programs::install_log_writer("vschost", 0);
  std::string error;
  bool exit_now = false;
  auto options = vschost::parse_options(argc, argv, error, exit_now);
  if (exit_now) return 0;
  if (!options) {
    // vscclient's usage error, word for word (its exit status is libcacard's 4).
    std::fprintf(stderr, "vschost: error: %s\nTry 'vschost --help' for more information.\n",
                 error.c_str());
    return 2;
  }
  return vschost::run(*options);
}
