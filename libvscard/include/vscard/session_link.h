// SPDX-License-Identifier: LGPL-2.1-or-later
// SessionLink: binds a Connection to a sans-I/O session (ClientSession or
// HostSession, or anything with the same members) and drives it by itself:
//   bytes read -> session.receive(bytes) -> what the session queued is written
//   a command from anywhere else (a timer, a card worker's answer, the stdin
//     console) -> the session's output notifier -> written at once
//   session.closed() -> connection.close_after_flush() (unless Options say not)
// The program never flushes: whatever the session queues reaches the
// connection's write queue before the command that queued it returns, or, for
// commands given from an event handler during receive(), once receive()
// returns (one write for everything a read produced). Output is copied once
// into the connection's write queue, whose buffers are reused: no heap
// allocation per APDU.
//
//   vscard::SessionLink link(session, *connection, [&](const vscard::CloseReason& r) {
//     g_message("host went away: %s", r.message.c_str()); connector.reconnect(); });
//   session.add_reader("Reader 0");  // ReaderAdd goes out once the host's Init is in
//
// The link starts the connection and writes what the session already holds
// (e.g. the Init a restarted ClientSession queued). Destroy the link before the
// session or the connection (it may be destroyed from any session or close
// handler); destroying it detaches it from the session.
#pragma once

#include <concepts>
#include <functional>
#include <memory>
#include <utility>

#include "vscard/connection.h"
#include "vscard/message.h"

namespace vscard {

template <class S>
concept SansIoSession = requires(S& s, const S& cs, Bytes bytes, std::size_t n,
                                 std::function<void()> notify) {
  s.receive(bytes);
  { cs.pending_output() } -> std::convertible_to<Bytes>;
  s.consume_output(n);
  { cs.closed() } -> std::convertible_to<bool>;
  // Called whenever the session queues output or closes; empty to detach.
  s.set_output_notifier(notify);
};

template <SansIoSession Session>
class SessionLink {
 public:
  struct Options {
    // Close the connection (after sending what is queued) once the session
    // reports closed(). vschost turns it off: in QEMU mode a closed session
    // stands for QEMU's deaf-but-open connection, and it closes by itself
    // otherwise.
    bool close_when_session_closes = true;
  };

  SessionLink(Session& session, Connection& connection, Connection::CloseHandler on_close,
              Options options = {})
      : session_(session), connection_(connection), on_close_(std::move(on_close)),
        options_(options), alive_(std::make_shared<bool>(true)) {
    session_.set_output_notifier([this] {
      // Inside receive() everything the read produced goes out in one write
      // once it returns.
      if (!receiving_) write_pending();
    });
    connection_.start(
        [this, alive = alive_](Bytes data) {
          receiving_ = true;
          session_.receive(data);
          // The session's event handler may have destroyed this link.
          if (!*alive) return;
          receiving_ = false;
          write_pending();
        },
        [this, alive = alive_](const CloseReason& reason) {
          if (*alive && on_close_) on_close_(reason);
        });
    write_pending();
  }
  ~SessionLink() {
    *alive_ = false;
    session_.set_output_notifier(nullptr);
  }
  SessionLink(const SessionLink&) = delete;
  SessionLink& operator=(const SessionLink&) = delete;

  // Writes what the session holds, then closes the connection once all of it
  // is sent (Connection::close_after_flush; the close handler gets Kind::Local).
  void close_after_flush() {
    write_pending();
    if (connection_.is_open()) connection_.close_after_flush();
  }

  Session& session() { return session_; }
  Connection& connection() { return connection_; }

 private:
  // Hands the session's pending output to the connection. A connection that
  // refuses the bytes reports why through the close handler, from the main
  // loop. Once the connection is closed the output stays in the session (a
  // restarted ClientSession keeps its Init for the next connection).
  void write_pending() {
    if (!connection_.is_open()) return;
    const Bytes out = session_.pending_output();
    if (!out.empty()) {
      const std::size_t n = out.size();
      connection_.write(out);
      // Consumed even on failure: those bytes can never be sent on this
      // connection, and a restart() discards them anyway.
      session_.consume_output(n);
    }
    if (options_.close_when_session_closes && session_.closed() && connection_.is_open()) {
      connection_.close_after_flush();
    }
  }

  Session& session_;
  Connection& connection_;
  Connection::CloseHandler on_close_;
  Options options_;
  bool receiving_ = false;
  std::shared_ptr<bool> alive_;
};

}  // namespace vscard
