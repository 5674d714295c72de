// SPDX-License-Identifier: LGPL-2.1-or-later
// Log level filter (see log.h).
#include "log.h"

#include <atomic>
#include <cstdio>
#include <cstring>

#include <glib.h>

#include "vscard/printable.h"
#include "vscard/printable_log.h"

namespace vscclient {
namespace {

std::atomic<int> level{0};

const char* domain_of(const GLogField* fields, gsize n) {
  for (gsize i = 0; i < n; ++i) {
    if (std::strcmp(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0) {
      return static_cast<const char*>(fields[i].value);
    }
  }
  return "";
}

GLogWriterOutput writer(GLogLevelFlags flags, const GLogField* fields, gsize n, gpointer) {
  if ((flags & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) != 0) {
    int current = level.load();
    if (current <= 0) return G_LOG_WRITER_HANDLED;
    const char* domain = domain_of(fields, n);
    bool ours = std::strcmp(domain, "vscclient") == 0 || std::strcmp(domain, "vscard") == 0;
    if (current < 2 && !ours) return G_LOG_WRITER_HANDLED;
    // The default writer would drop debug output unless G_MESSAGES_DEBUG is
    // set; write it to stderr like every other log line (stdout is for the
    // answers to stdin commands).
    std::fprintf(stderr, "%s\n", vscard::format_log_fields_printable(flags, fields, n).c_str());
    return G_LOG_WRITER_HANDLED;
  }
  // Peer text (host errors, reader names) is escaped in every log line.
  return vscard::printable_log_writer(flags, fields, n, nullptr);
}

}  // namespace

void install_log_writer(int initial) {
  level.store(initial);
  g_log_set_writer_func(writer, nullptr, nullptr);
}

void print_error(const std::string& text) {
  g_printerr("vscclient: %s\n", vscard::printable(text).c_str());
}

void set_log_level(int value) { level.store(value); }
int log_level() { return level.load(); }

}  // namespace vscclient
