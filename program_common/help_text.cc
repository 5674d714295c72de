// SPDX-License-Identifier: LGPL-2.1-or-later
// The programs' --help layout (see help_text.h).
#include "help_text.h"

#include <sstream>

namespace programs {
namespace {

// `text` word-wrapped so that each line, after `indent` (and `first_indent`
// on the first line), fits in kHelpWidth.
std::string wrap(const std::string& text, std::size_t first_used, std::size_t indent) {
  std::istringstream words(text);
  std::string word, out;
  std::size_t used = first_used;
  bool line_empty = true;
  while (words >> word) {
    if (!line_empty && used + 1 + word.size() > kHelpWidth) {
      out += "\n" + std::string(indent, ' ');
      used = indent;
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++used;
    }
    out += word;
    used += word.size();
    line_empty = false;
  }
  return out;
}

}  // namespace

std::vector<HelpItem> help_items(const GOptionEntry* entries, std::size_t count) {
  std::vector<HelpItem> items;
  for (std::size_t i = 0; i < count && entries[i].long_name != nullptr; ++i) {
    const GOptionEntry& e = entries[i];
    if ((e.flags & G_OPTION_FLAG_HIDDEN) != 0) continue;
    std::string left;
    if (e.short_name != 0) left = std::string("-") + e.short_name + ", ";
    left += std::string("--") + e.long_name;
    const bool no_value = e.arg == G_OPTION_ARG_NONE || (e.flags & G_OPTION_FLAG_NO_ARG) != 0;
    if (!no_value) {
      std::string value = e.arg_description != nullptr ? e.arg_description : "VALUE";
      left += (e.flags & G_OPTION_FLAG_OPTIONAL_ARG) != 0 ? "[=" + value + "]" : "=" + value;
    }
    items.push_back({left, e.description != nullptr ? e.description : ""});
  }
  return items;
}

std::string help_text(const std::string& program, const Help& help) {
  std::string out;
  for (std::size_t i = 0; i < help.usage.size(); ++i) {
    out += (i == 0 ? "Usage: " : "       ") + program + " " + help.usage[i] + "\n";
  }
  out += wrap(help.summary, 0, 0) + "\n";
  for (const HelpSection& section : help.sections) {
    out += "\n" + section.heading + ":\n";
    if (!section.intro.empty()) out += "  " + wrap(section.intro, 2, 2) + "\n";
    for (const HelpItem& item : section.items) {
      out += "  " + item.left;
      std::size_t used = 2 + item.left.size();
      if (item.description.empty()) {
        out += "\n";
        continue;
      }
      if (used + 2 > kHelpColumn) {
        out += "\n";
        used = 0;
      }
      out += std::string(kHelpColumn - used, ' ') +
             wrap(item.description, kHelpColumn, kHelpColumn) + "\n";
    }
  }
  return out;
}

std::string version_text(const std::string& program, const std::string& version) {
  return program + " " + version + "\n";
}

}  // namespace programs
