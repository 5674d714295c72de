// SPDX-License-Identifier: LGPL-2.1-or-later
// App: vscclient's main loop and wiring -- a card source feeds the Bridge, the
// Bridge drives the ClientSession, the Uplink carries the session to the host
// (uplink.h), the Console takes stdin commands (console.h). The App routes
// every session event (one std::visit) and runs the exit sequence.
#pragma once

#include <memory>
#include <vector>

#include <glib.h>

#include "bridge.h"
#include "card_source.h"
#include "console.h"
#include "exit_cause.h"
#include "options.h"
#include "signal_watch.h"
#include "uplink.h"
#include "vscard/client_session.h"

namespace vscclient {

class App {
 public:
  explicit App(Options options);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Runs until `exit`, a signal, or the end of the uplink; returns the exit status.
  int run();

 private:
  void route(const vscard::ClientEvent& event);
  // `exit` or a signal: cards and readers leave the host first.
  void begin_exit();
  void finish(ExitCause cause);

  Options options_;
  GMainLoop* loop_ = nullptr;
  ExitCause cause_ = ExitCause::Done;
  bool exiting_ = false;
  std::unique_ptr<CardSource> source_;
  vscard::ClientSession session_;
  Bridge bridge_;
  Console console_;
  // Declared after session_ and bridge_: its link goes before the session.
  std::unique_ptr<Uplink> uplink_;
  std::unique_ptr<programs::SignalWatch> signals_;  // SIGINT, SIGTERM: begin_exit()
};

}  // namespace vscclient
