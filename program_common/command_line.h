// SPDX-License-Identifier: LGPL-2.1-or-later
// The programs' command line (vscclient and vschost): GLib's GOption parses
// it, with GNU getopt_long's reading of the words kept where the two differ,
// so that libcacard vscclient's command lines mean what they meant:
//   - a bare optional-value option (`--pcsc HOST PORT`) never takes the next
//     word as its value (GOption would: only `--pcsc=PATTERN` gives one);
//   - a short option's value may be attached (`-d1`, `-cNAME`, `-pd1`);
//   - words that are not options (HOST PORT) may stand anywhere, and
//     everything after `--` is such a word.
// GOption's own --help is off: each program prints its help_text() (help_text.h).
#pragma once

#include <glib.h>

#include <optional>
#include <string>
#include <vector>

namespace programs {

// The words of argv in an order GOption reads as getopt_long would: options
// and their values first (an attached short value split off), then "--", then
// the other words. `entries` (ending with a null entry) tells which options
// take a value. A value given to an option that takes none (--once=yes) is
// refused (nullopt, `error` set), as getopt_long does; GOption would ignore it.
std::optional<std::vector<std::string>> getopt_order(int argc, char** argv,
                                                     const GOptionEntry* entries,
                                                     std::string* error);

// Parses argv with `entries` (their callbacks get `user_data`), returning the
// words that are not options (HOST PORT), or nullopt with `error` set to one
// line: a callback's GError message, or GOption's own ("unknown option --x",
// "missing argument for -c"), starting in lower case like the programs' other
// error lines.
std::optional<std::vector<std::string>> parse_command_line(int argc, char** argv,
                                                           const GOptionEntry* entries,
                                                           gpointer user_data,
                                                           std::string* error);

// For option callbacks: fails the parse with `text` as the error line.
gboolean option_error(GError** error, const std::string& text);

}  // namespace programs
