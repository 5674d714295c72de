// SPDX-License-Identifier: LGPL-2.1-or-later
// Termination signals through a signalfd on the main loop (see signal_watch.h).
#include "signal_watch.h"

#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace programs {

SignalWatch::SignalWatch(std::initializer_list<int> signals, OnSignal on_signal,
                         GMainContext* context)
    : on_signal_(std::move(on_signal)) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd_ < 0) {
    g_warning("cannot watch signals (signalfd: %s); Ctrl-C and SIGTERM end the program at once",
              std::strerror(errno));
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    return;
  }
  source_.reset(g_unix_fd_source_new(fd_, G_IO_IN));
  g_source_set_callback(source_.get(), G_SOURCE_FUNC(&SignalWatch::readable), this, nullptr);
  g_source_attach(source_.get(), context);
}

SignalWatch::~SignalWatch() {
  source_.reset();
  if (fd_ >= 0) close(fd_);
}

gboolean SignalWatch::readable(gint fd, GIOCondition, gpointer data) {
  auto* self = static_cast<SignalWatch*>(data);
  signalfd_siginfo info;
  // One record per pending signal. The handler must not destroy the watch
  // (its owner outlives the main loop that runs it).
  while (read(fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
    self->on_signal_(static_cast<int>(info.ssi_signo));
  return G_SOURCE_CONTINUE;
}

}  // namespace programs
