// SPDX-License-Identifier: LGPL-2.1-or-later
// SignalWatch: termination signals (SIGINT, SIGTERM) handed to the GLib main
// loop through a signalfd. GLib's g_unix_signal_add() does the same through
// its worker context, which starts a thread of its own ("gmain") that does
// nothing else in these programs (issue 19: vscclient had 3 threads where
// libcacard's vscclient has 2).
//
// A signalfd only sees signals that no thread takes: the watched signals are
// blocked in the calling thread when the watch is created, so create it
// before any other thread starts (threads inherit the mask of the thread that
// starts them). They stay blocked after the watch is gone: a second Ctrl-C
// during shutdown does not kill the program halfway. These programs start no
// child processes, which would inherit the mask through exec.
#pragma once

#include <glib.h>

#include <functional>
#include <initializer_list>

#include "vscard/glib_ptr.h"

namespace programs {

class SignalWatch {
 public:
  using OnSignal = std::function<void(int signal)>;
  // Each signal of `signals` that arrives calls `on_signal` from `context`'s
  // main loop (the default context if null). If the signalfd cannot be made,
  // the signals are left unblocked (their default action: the program ends)
  // and a warning says so.
  SignalWatch(std::initializer_list<int> signals, OnSignal on_signal,
              GMainContext* context = nullptr);
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  static gboolean readable(gint fd, GIOCondition condition, gpointer self);

  OnSignal on_signal_;
  int fd_ = -1;
  vscard::GSourcePtr source_;
};

}  // namespace programs
