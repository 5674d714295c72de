// SPDX-License-Identifier: LGPL-2.1-or-later
// Standard input, line by line (see stdin_lines.h).
#include "stdin_lines.h"

#include <unistd.h>

#include <utility>

#include "vscard/glib_ptr.h"

namespace programs {

StdinLines::StdinLines(OnLine on_line) : on_line_(std::move(on_line)) {}

StdinLines::~StdinLines() {
  if (watch_ != 0) g_source_remove(watch_);
  if (channel_ != nullptr) g_io_channel_unref(channel_);
}

void StdinLines::start() {
  channel_ = g_io_channel_unix_new(STDIN_FILENO);
  g_io_channel_set_flags(channel_, G_IO_FLAG_NONBLOCK, nullptr);
  watch_ = g_io_add_watch(channel_, GIOCondition(G_IO_IN | G_IO_HUP | G_IO_ERR), on_input, this);
}

void StdinLines::stop() {
  stopped_ = true;
  // From inside on_input GLib destroys the source once the callback returns.
  if (watch_ != 0) g_source_remove(watch_);
  watch_ = 0;
}

gboolean StdinLines::on_input(GIOChannel* channel, GIOCondition, gpointer data) {
  auto* self = static_cast<StdinLines*>(data);
  // Every complete line available now: several may arrive in one read.
  while (!self->stopped_) {
    gchar* line = nullptr;
    gsize length = 0;
    vscard::GErrorPtr error;
    GIOStatus status = g_io_channel_read_line(channel, &line, &length, nullptr, error.out());
    if (status == G_IO_STATUS_NORMAL) {
      std::string text(line != nullptr ? line : "", line != nullptr ? length : 0);
      g_free(line);
      self->on_line_(text);
      continue;
    }
    g_free(line);
    if (status == G_IO_STATUS_AGAIN) return G_SOURCE_CONTINUE;
    if (error) g_warning("reading commands from standard input failed: %s", error.message());
    break;  // end of input
  }
  self->watch_ = 0;
  return G_SOURCE_REMOVE;
}

}  // namespace programs
