// SPDX-License-Identifier: LGPL-2.1-or-later
// The programs' log writer (see program_log.h).
#include "program_log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <vector>

#include <glib.h>

#include "vscard/printable.h"

namespace programs {
namespace {

std::atomic<int> level{0};
// Set once, before any thread logs (install_log_writer).
const char* program_name = "";

std::string field(const GLogField* fields, gsize n, const char* key) {
  for (gsize i = 0; i < n; ++i) {
    if (std::strcmp(fields[i].key, key) != 0 || fields[i].value == nullptr) continue;
    const auto* text = static_cast<const char*>(fields[i].value);
    return fields[i].length < 0 ? std::string(text)
                                : std::string(text, static_cast<std::size_t>(fields[i].length));
  }
  return {};
}

GLogWriterOutput writer(GLogLevelFlags flags, const GLogField* fields, gsize n, gpointer) {
  const std::string domain = field(fields, n, "GLIB_DOMAIN");
  const bool debug = (flags & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) != 0;
  if (debug) {
    int current = level.load();
    if (current <= 0) return G_LOG_WRITER_HANDLED;
    bool ours = domain == program_name || domain == "vscard";
    if (current < 2 && !ours) return G_LOG_WRITER_HANDLED;
  }
  const std::string message = field(fields, n, "MESSAGE");
  if (g_log_writer_is_journald(STDERR_FILENO)) {
    // The journal keeps the priority and domain as fields; only the text is ours.
    std::string text = vscard::printable(message);
    std::vector<GLogField> copy(fields, fields + n);
    for (auto& f : copy) {
      if (std::strcmp(f.key, "MESSAGE") == 0) {
        f.value = text.c_str();
        f.length = -1;
      }
    }
    if (g_log_writer_journald(flags, copy.data(), copy.size(), nullptr) == G_LOG_WRITER_HANDLED) {
      return G_LOG_WRITER_HANDLED;
    }
  }
  const bool error = (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) != 0;
  const bool warning = (flags & G_LOG_LEVEL_WARNING) != 0;
  std::string line = format_log_line(program_name, error, warning, debug, domain, message);
  line += '\n';
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  return G_LOG_WRITER_HANDLED;
}

}  // namespace

std::string format_log_line(const std::string& program, bool error, bool warning, bool debug,
                            const std::string& domain, const std::string& message) {
  std::string line = program + ": ";
  if (error) {
    line += "error: ";
  } else if (warning) {
    line += "warning: ";
  } else if (debug) {
    line += "debug: ";
  }
  if (!domain.empty() && domain != program) line += vscard::printable(domain) + ": ";
  line += vscard::printable(message);
  return line;
}

void print_error(const std::string& text) {
  g_log_structured(program_name, G_LOG_LEVEL_CRITICAL, "MESSAGE", "%s", text.c_str());
}

void install_log_writer(const char* program, int initial) {
  program_name = program;
  level.store(initial);
  g_log_set_writer_func(writer, nullptr, nullptr);
}

void set_log_level(int value) { level.store(value); }
int log_level() { return level.load(); }

}  // namespace programs
