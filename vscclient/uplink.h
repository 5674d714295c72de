// SPDX-License-Identifier: LGPL-2.1-or-later
// Uplink: vscclient's way to the host. A Connector dials the host (and dials
// again when a connection ends, unless the options ask for one session), the
// Connection it hands out carries a SessionLink that drives the ClientSession,
// and a host's Reconnect request moves everything to a new address. The
// decisions about connections live here: retry or give up, what a close means
// (--once, --no-reconnect), and the exit sequence's last flush.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <glib.h>

#include "exit_cause.h"
#include "failure_streak.h"
#include "main_context.h"
#include "options.h"
#include "vscard/client_session.h"
#include "vscard/connection.h"
#include "vscard/connector.h"
#include "vscard/session_link.h"

namespace vscclient {

class Uplink {
 public:
  struct Handlers {
    // A new connection; the session has restarted (it announces every reader
    // and card again by itself).
    std::function<void()> connected;
    // The uplink is done for good (a single session ended, or connecting
    // failed in a way that ends the program); the log line is written.
    std::function<void(ExitCause)> ended;
  };

  // Loads the TLS credentials the options name. nullptr with `error` set (one
  // line) when they cannot be loaded.
  static std::unique_ptr<Uplink> create(const Options& options, vscard::ClientSession& session,
                                        Handlers handlers, std::string* error);
  Uplink(const Options& options, vscard::Connector::Options connector,
         vscard::ClientSession& session, Handlers handlers);
  ~Uplink();
  Uplink(const Uplink&) = delete;
  Uplink& operator=(const Uplink&) = delete;

  // Warns about a plaintext connection off this machine, then the first attempt.
  void start();
  // The host's Reconnect request: dial HOST:PORT; once connected there, drop
  // the current host and come back to the new one after a loss.
  void move_to(std::string_view host, std::string_view port);
  // The exit sequence: no more attempts; what the session queued is sent,
  // then the connection closes and `done` runs (at once without a
  // connection, or after a few seconds if the host does not read).
  void shut_down(std::function<void()> done);

  // The host's Init arrived: the session works (ends a failure streak).
  void session_established();

  const std::string& peer() const { return peer_; }

 private:
  std::unique_ptr<vscard::Connector> dial(const vscard::Address& address);
  void connected(std::unique_ptr<vscard::Connection> connection);
  void connect_failed(const GError* error, std::optional<std::chrono::milliseconds> retry_in);
  void closed(const vscard::CloseReason& reason);
  void finish_shut_down();

  vscard::ClientSession& session_;
  Handlers handlers_;
  bool one_session_ = false;           // --once or --no-reconnect
  std::string tls_creds_;              // for the hint when the host refuses our certificate
  vscard::Connector::Options connector_options_;
  std::unique_ptr<vscard::Connector> connector_;
  std::unique_ptr<vscard::Connector> moving_to_;  // Reconnect extension in progress
  // Declared after connection_ so that the link goes first (it must not outlive it).
  std::unique_ptr<vscard::Connection> connection_;
  std::unique_ptr<vscard::SessionLink<vscard::ClientSession>> link_;
  std::string peer_;
  bool connection_tls_ = false;
  std::function<void()> shut_down_done_;  // set while shutting down
  guint shut_down_timeout_ = 0;
  // Connect failures and lost sessions since the last working session.
  FailureStreak streak_;
  MainContextPoster poster_;  // deferred work, e.g. dropping a finished Connector
};

}  // namespace vscclient
