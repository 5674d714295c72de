// SPDX-License-Identifier: LGPL-2.1-or-later
// SocketConnect: one non-blocking connect to an address that needs no name
// lookup (an IPv4 or IPv6 literal, or a Unix socket path), watched by a
// GSocketSource on the caller's main context.
//
// GSocketClient's asynchronous connect does the same through a GTask, and the
// first GTask of a process starts GLib's worker thread ("gmain", GLib 2.74
// gtask.c, g_task_thread_pool_init) for good: one thread more than the
// program needs (issue 19). Names still go through GSocketClient (connector.cc),
// whose resolver needs a thread anyway.
#pragma once

#include <gio/gio.h>

#include <chrono>
#include <functional>
#include <memory>

#include "vscard/address.h"
#include "vscard/glib_ptr.h"

namespace vscard::transport {

class SocketConnect {
 public:
  // Exactly one of the two is set: the connection, or why there is none
  // (G_IO_ERROR, as GSocketClient reports it: CONNECTION_REFUSED, NOT_FOUND,
  // TIMED_OUT...).
  using Done = std::function<void(GObjectPtr<GSocketConnection> connection, GErrorPtr error)>;

  // Starts connecting; `done` runs later from `context`'s main loop (never
  // from in here). `timeout` 0 s: no limit. Null when `address` is a host name
  // (connect through GSocketClient then).
  static std::unique_ptr<SocketConnect> start(const Address& address, std::chrono::seconds timeout,
                                              GMainContext* context, Done done);
  // Cancels: `done` is not called after this. May run from inside `done`.
  ~SocketConnect() = default;
  SocketConnect(const SocketConnect&) = delete;
  SocketConnect& operator=(const SocketConnect&) = delete;

 private:
  SocketConnect() = default;
  static gboolean writable(GSocket* socket, GIOCondition condition, gpointer self);
  static gboolean report_failure(gpointer self);
  void finish(GObjectPtr<GSocketConnection> connection, GErrorPtr error);

  Done done_;
  GObjectPtr<GSocket> socket_;
  GErrorPtr failure_;  // a connect() that failed at once, reported from report_failure
  GSourcePtr source_;
};

}  // namespace vscard::transport
