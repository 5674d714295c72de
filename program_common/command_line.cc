// SPDX-License-Identifier: LGPL-2.1-or-later
// The programs' command line on GOption (see command_line.h).
#include "command_line.h"

#include <cstring>
#include <memory>
#include <string_view>

#include "vscard/glib_ptr.h"

namespace programs {
namespace {

bool takes_value(const GOptionEntry& e) {
  if (e.arg == G_OPTION_ARG_NONE) return false;
  return (e.flags & (G_OPTION_FLAG_NO_ARG | G_OPTION_FLAG_OPTIONAL_ARG)) == 0;
}

const GOptionEntry* find_long(const GOptionEntry* entries, std::string_view name) {
  for (const GOptionEntry* e = entries; e->long_name != nullptr; ++e) {
    if (name == e->long_name) return e;
  }
  return nullptr;
}

const GOptionEntry* find_short(const GOptionEntry* entries, char name) {
  for (const GOptionEntry* e = entries; e->long_name != nullptr; ++e) {
    if (e->short_name == name) return e;
  }
  return nullptr;
}

std::nullopt_t needs_value(std::string_view option, std::string* error) {
  *error = "option " + std::string(option) + " needs a value";
  return std::nullopt;
}

struct ContextFree {
  void operator()(GOptionContext* c) const { g_option_context_free(c); }
};

}  // namespace

std::optional<std::vector<std::string>> getopt_order(int argc, char** argv,
                                                     const GOptionEntry* entries,
                                                     std::string* error) {
  std::vector<std::string> options{argc > 0 ? argv[0] : ""};
  std::vector<std::string> words;
  int i = 1;
  for (; i < argc; ++i) {
    std::string_view word = argv[i];
    if (word == "--") {
      ++i;
      break;
    }
    if (word.size() < 2 || word[0] != '-') {
      words.emplace_back(word);
      continue;
    }
    options.emplace_back(word);
    if (word[1] == '-') {
      // --name=value, or --name whose value is the next word.
      const std::size_t equals = word.find('=');
      const GOptionEntry* e = find_long(entries, word.substr(2, equals - 2));
      if (equals != std::string_view::npos) {
        // GOption ignores a value given to an option that takes none
        // (--once=yes); getopt_long refuses it, and so do we.
        if (e != nullptr && !takes_value(*e) && (e->flags & G_OPTION_FLAG_OPTIONAL_ARG) == 0) {
          *error = "option --" + std::string(e->long_name) + " takes no value";
          return std::nullopt;
        }
        continue;
      }
      if (e != nullptr && takes_value(*e)) {
        // Without this GOption would take the "--" added below as the value.
        if (i + 1 == argc) return needs_value(word, error);
        options.emplace_back(argv[++i]);
      }
      continue;
    }
    // A cluster of short options: the first that takes a value takes the rest
    // of the word, or the next word.
    for (std::size_t k = 1; k < word.size(); ++k) {
      const GOptionEntry* e = find_short(entries, word[k]);
      if (e == nullptr || !takes_value(*e)) continue;
      if (k + 1 < word.size()) {
        options.back() = std::string(word.substr(0, k + 1));
        options.emplace_back(word.substr(k + 1));
      } else if (i + 1 < argc) {
        options.emplace_back(argv[++i]);
      } else {
        return needs_value(std::string("-") + word[k], error);
      }
      break;
    }
  }
  for (; i < argc; ++i) words.emplace_back(argv[i]);
  options.emplace_back("--");
  options.insert(options.end(), words.begin(), words.end());
  return options;
}

gboolean option_error(GError** error, const std::string& text) {
  g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, text.c_str());
  return FALSE;
}

std::optional<std::vector<std::string>> parse_command_line(int argc, char** argv,
                                                           const GOptionEntry* entries,
                                                           gpointer user_data,
                                                           std::string* error) {
  auto order = getopt_order(argc, argv, entries, error);
  if (!order) return std::nullopt;
  std::vector<std::string>& ordered = *order;
  // GOption drops the words it parsed from the array it is given (without
  // freeing them): `ordered` keeps owning them.
  std::vector<gchar*> words;
  for (auto& word : ordered) words.push_back(word.data());
  words.push_back(nullptr);
  gchar** remaining = nullptr;
  // Callbacks get their values as bytes (FILENAME): no conversion from
  // the locale's charset, which fails on a C locale for non-ASCII paths.
  std::vector<GOptionEntry> all;
  for (const GOptionEntry* e = entries; e->long_name != nullptr; ++e) {
    all.push_back(*e);
    if (e->arg == G_OPTION_ARG_CALLBACK) all.back().flags |= G_OPTION_FLAG_FILENAME;
  }
  all.push_back(
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &remaining, nullptr, nullptr});
  all.push_back({nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr});

  std::unique_ptr<GOptionContext, ContextFree> context(g_option_context_new(nullptr));
  g_option_context_set_help_enabled(context.get(), FALSE);
  GOptionGroup* group = g_option_group_new("main", "", "", user_data, nullptr);
  g_option_group_add_entries(group, all.data());
  g_option_context_set_main_group(context.get(), group);
  gint count = static_cast<gint>(ordered.size());
  gchar** cursor = words.data();
  vscard::GErrorPtr failure;
  if (!g_option_context_parse(context.get(), &count, &cursor, failure.out())) {
    *error = failure.message();
    g_strfreev(remaining);
    // GOption's own messages start with a capital ("Unknown option --x").
    if (!error->empty()) (*error)[0] = g_ascii_tolower((*error)[0]);
    return std::nullopt;
  }
  std::vector<std::string> result;
  for (gchar** p = remaining; p != nullptr && *p != nullptr; ++p) result.emplace_back(*p);
  g_strfreev(remaining);
  return result;
}

}  // namespace programs
