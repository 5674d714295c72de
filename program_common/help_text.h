// SPDX-License-Identifier: LGPL-2.1-or-later
// The programs' --help (vscclient and vschost): one layout, built from the
// GOption entries the command line is parsed with, so the help cannot miss an
// option. tests/integration/test_help_layout.py checks it for both programs,
// and that their man pages list the same options:
//
//   Usage: PROG USAGE                     (one line per form, aligned)
//          PROG USAGE
//   SUMMARY                               (wrapped)
//
//   HEADING:                              (the programs' option sections,
//     INTRO                                ending with Logging: and
//     -x, --name=ARG         DESCRIPTION   Information:, then Commands on
//     --name[=ARG]           DESCRIPTION   standard input: and Exit status:)
//     LEFT-TEXT-LONGER-THAN-THE-COLUMN
//                            DESCRIPTION
//
// Every line fits in 79 columns; descriptions start at column 25.
#pragma once

#include <glib.h>

#include <string>
#include <vector>

namespace programs {

inline constexpr std::size_t kHelpWidth = 79;
inline constexpr std::size_t kHelpColumn = 25;

struct HelpItem {
  std::string left;         // "-c, --cert=NAME", "HOST PORT", "0"
  std::string description;  // wrapped at the column
};

struct HelpSection {
  std::string heading;  // without the colon
  std::string intro;    // wrapped paragraph under the heading (may be empty)
  std::vector<HelpItem> items;
};

struct Help {
  std::vector<std::string> usage;  // the forms, after the program's name
  std::string summary;
  std::vector<HelpSection> sections;
};

// The items for `entries` (up to a null entry or `count`), in their order:
// "-c, --cert=NAME" (arg_description, default "VALUE"), "--pcsc[=PATTERN]"
// for an optional value, "-v, --verbose" for none; the description is the
// entry's. Hidden entries are left out.
std::vector<HelpItem> help_items(const GOptionEntry* entries, std::size_t count);

std::string help_text(const std::string& program, const Help& help);

// What --version prints: "PROG VERSION\n".
std::string version_text(const std::string& program, const std::string& version);

}  // namespace programs
