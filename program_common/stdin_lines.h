// SPDX-License-Identifier: LGPL-2.1-or-later
// StdinLines: standard input read line by line on the GLib main loop, for the
// programs' interactive commands (vscclient's and vschost's consoles). Each
// complete line goes to the callback as read (with its newline; a last line
// without one at end of input too); end of input or a read error ends the
// reading (the program keeps running). Nonblocking: a partial line never
// stalls the main loop.
#pragma once

#include <glib.h>

#include <functional>
#include <string>

namespace programs {

class StdinLines {
 public:
  using OnLine = std::function<void(const std::string& line)>;
  explicit StdinLines(OnLine on_line);
  ~StdinLines();
  StdinLines(const StdinLines&) = delete;
  StdinLines& operator=(const StdinLines&) = delete;

  void start();
  // No more lines, also from inside the callback (the lines already read and
  // not yet handed over are dropped).
  void stop();

 private:
  static gboolean on_input(GIOChannel* channel, GIOCondition condition, gpointer self);

  OnLine on_line_;
  bool stopped_ = false;
  GIOChannel* channel_ = nullptr;
  guint watch_ = 0;
};

}  // namespace programs
