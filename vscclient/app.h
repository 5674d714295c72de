// SPDX-License-Identifier: LGPL-2.1-or-later
// App: vscclient's main loop -- card sources -> Bridge -> ClientSession ->
// SessionLink -> Connection, with a Connector that reconnects, the stdin
// command line, and the exit sequence.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <glib.h>

#include "bridge.h"
#include "card_source.h"
#include "main_context.h"
#include "options.h"
#include "vscard/client_session.h"
#include "vscard/connection.h"
#include "vscard/connector.h"
#include "vscard/session_link.h"

namespace vscclient {

class App {
 public:
  explicit App(Options options);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Runs until `exit`, a signal, or a fatal error; returns the exit status.
  int run();

 private:
  bool start_sources();
  bool make_connector(const vscard::Address& address, std::string* error);
  void warn_if_plaintext(const vscard::Address& address) const;
  void connected(std::unique_ptr<vscard::Connection> connection);
  void connect_failed(const GError* error, std::optional<std::chrono::milliseconds> retry_in);
  void connection_closed(const vscard::CloseReason& reason);
  void session_event(const vscard::ClientEvent& event);
  void follow_reconnect(std::string host, std::string port);
  void command(const std::string& line);
  void begin_exit(int status);
  void finish(int status);
  static gboolean on_stdin(GIOChannel* channel, GIOCondition condition, gpointer self);

  Options options_;
  GMainLoop* loop_ = nullptr;
  int status_ = kExitOk;
  bool exiting_ = false;
  std::vector<std::unique_ptr<CardSource>> sources_;
  vscard::ClientSession session_;
  Bridge bridge_;
  vscard::Connector::Options connector_options_;
  std::unique_ptr<vscard::Connector> connector_;
  std::unique_ptr<vscard::Connector> moving_to_;  // Reconnect extension in progress
  // Declared after connection_ so that the link goes first (it must not outlive it).
  std::unique_ptr<vscard::Connection> connection_;
  std::unique_ptr<vscard::SessionLink<vscard::ClientSession>> link_;
  std::string peer_;
  bool connection_tls_ = false;
  vscard::ReaderId default_reader_ = 0;  // stdin `select`; the anchor starts at 0
  GIOChannel* stdin_ = nullptr;
  guint stdin_watch_ = 0;
  guint exit_timeout_ = 0;
  std::vector<guint> signal_watches_;
  MainContextPoster poster_;  // deferred work, e.g. dropping a finished Connector
};

}  // namespace vscclient
