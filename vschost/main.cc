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
#include "vscard/printable_log.h"

int main(int argc, char** argv) {
  // The user's locale for text (GLib converts messages and --help to its
  // charset: "[OPTION…]", not "[OPTION?]"), but C numbers: the JSON and JUnit
  // reports print decimals with a point whatever LC_NUMERIC says.
  std::setlocale(LC_ALL, "");
  std::setlocale(LC_NUMERIC, "C");
  // Log lines quote peer text (reader names, addresses, TLS errors): escaped.
  g_log_set_writer_func(vscard::printable_log_writer, nullptr, nullptr);
  // Every log line on stderr, debug and info included: stdout carries the
  // reports (--report tap/json) and must hold nothing else.
  g_log_writer_default_set_use_stderr(TRUE);
  std::string error;
  bool exit_now = false;
  auto options = vschost::parse_options(argc, argv, error, exit_now);
  if (exit_now) return 0;
  if (!options) {
    std::fprintf(stderr, "vschost: %s\n", error.c_str());
    return 2;
  }
  return vschost::run(*options);
}
