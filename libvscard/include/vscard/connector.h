// SPDX-License-Identifier: LGPL-2.1-or-later
// Connector: dials an Address (TCP by name, IPv4/IPv6 literal, or Unix socket),
// optionally with TLS, and keeps retrying with capped exponential backoff and
// jitter while the peer is not there yet -- and again, via reconnect(), after
// a connection has gone away.
//
//   vscard::Connector connector(
//       options,
//       [&](std::unique_ptr<vscard::Connection> c) {
//         link.reset();  // the old link goes before its connection
//         conn = std::move(c);
//         session.restart();
//         link.emplace(session, *conn, [&](const vscard::CloseReason&) {
//           connector.reconnect();  // when the connection closes
//         });
//       },
//       [&](const GError* e, std::optional<std::chrono::milliseconds> retry) {
//         g_warning("%s", e->message);
//       });
//   connector.start();
//   // On the session's HostInit event (the host's Init arrived): a loss of
//   // this connection retries after backoff.initial, however short it was.
//   connector.session_established();
#pragma once

#include <gio/gio.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "vscard/address.h"
#include "vscard/connection.h"
#include "vscard/tls.h"
#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

// Delay before retry n (n = 0 for the first retry):
//   min(max, initial * multiplier^n), then scaled by a random factor in
//   [1 - jitter, 1 + jitter] so that many clients do not retry in lockstep.
struct Backoff {
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{30000};
  double multiplier = 2.0;
  double jitter = 0.2;
  // `random01` is a uniform random value in [0, 1).
  std::chrono::milliseconds delay(unsigned retry, double random01) const;
};

class Connector {
 public:
  struct Options {
    Address address;
    std::optional<TlsClientOptions> tls;  // nullopt: plaintext
    Connection::Options connection;
    Backoff backoff;
    // Give up after this many consecutive failed attempts; 0: never.
    unsigned max_attempts = 0;
    // Per attempt, for TCP connect + TLS handshake; 0 s: no limit.
    std::chrono::seconds timeout{20};
    // A connection that lived at least this long resets the backoff, even
    // without session_established(); a peer that accepts and drops us at once
    // keeps the delays growing.
    std::chrono::seconds stable_after{10};
  };
  using ConnectedHandler = std::function<void(std::unique_ptr<Connection> connection)>;
  // Each failed attempt: the error (one line, "cannot connect to HOST:PORT: ...")
  // and the delay before the next attempt, or nullopt when giving up (max_attempts).
  // The handler may call stop() (e.g. for a TLS certificate error, which will
  // not fix itself: see transport_error_is_permanent()).
  using FailedHandler =
      std::function<void(const GError* error, std::optional<std::chrono::milliseconds> retry_in)>;

  Connector(Options options, ConnectedHandler on_connected, FailedHandler on_failed);
  ~Connector();
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  // First attempt now.
  void start();
  // The connection handed out carried a real session (for VSCard: the host's
  // Init arrived). When it ends, reconnect() starts the backoff again from
  // backoff.initial, however short the session was: a peer that served a
  // session is healthy, and a CI running many short sessions (vschost --once)
  // against one client must not wait longer before each. A connection without
  // this call resets the backoff only if it lived stable_after, so a peer that
  // accepts and drops us before any session keeps the delays growing.
  void session_established();
  // The connection handed out has ended: next attempt after the backoff delay,
  // which is returned (for the log). The delay is backoff.initial (with
  // jitter) after a session_established() connection or one that lived
  // stable_after; otherwise the next step of the sequence.
  std::chrono::milliseconds reconnect();
  // Cancels any attempt or scheduled retry. start() may be called again.
  void stop();
  // An attempt is running or scheduled.
  bool active() const;
  const Options& options() const;

 private:
  struct VSCARD_HIDDEN Impl;  // the state is libvscard's
  std::shared_ptr<Impl> impl_;
};

// True for failures that retrying cannot fix: an invalid address or a TLS
// certificate check (unknown CA, name mismatch, expired, revoked, bad certificate,
// credentials files).
bool transport_error_is_permanent(const GError* error);

VSCARD_API_END
}  // namespace vscard
