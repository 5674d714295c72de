// SessionLink: binds a Connection to a sans-I/O session (ClientSession or
// HostSession, or anything with the same four members):
//   bytes read   -> session.receive(bytes) -> flush()
//   flush()      -> connection.write(session.pending_output()); session.consume_output(n)
//   session.closed() after a flush -> connection.close_after_flush()
// Call flush() after every command you give the session (add_reader,
// send_apdu...). Output is copied once into the connection's write queue, whose
// buffers are reused: no heap allocation per APDU.
//
//   vscard::SessionLink link(session, *connection, [&](const vscard::CloseReason& r) {
//     g_message("host went away: %s", r.message.c_str()); connector.reconnect(); });
//   session.add_reader("Reader 0"); link.flush();
//
// The link starts the connection. Destroy the link before the session or the
// connection (it may be destroyed from any session or close handler).
#pragma once

#include <concepts>
#include <memory>
#include <utility>

#include "vscard/connection.h"
#include "vscard/message.h"

namespace vscard {

template <class S>
concept SansIoSession = requires(S& s, const S& cs, Bytes bytes, std::size_t n) {
  s.receive(bytes);
  { cs.pending_output() } -> std::convertible_to<Bytes>;
  s.consume_output(n);
  { cs.closed() } -> std::convertible_to<bool>;
};

template <SansIoSession Session>
class SessionLink {
 public:
  SessionLink(Session& session, Connection& connection, Connection::CloseHandler on_close)
      : session_(session), connection_(connection), on_close_(std::move(on_close)),
        alive_(std::make_shared<bool>(true)) {
    connection_.start(
        [this, alive = alive_](Bytes data) {
          session_.receive(data);
          // The session's event handler may have destroyed this link.
          if (*alive) flush();
        },
        [this, alive = alive_](const CloseReason& reason) {
          if (*alive && on_close_) on_close_(reason);
        });
    flush();  // e.g. the Init a restarted ClientSession queued
  }
  ~SessionLink() { *alive_ = false; }
  SessionLink(const SessionLink&) = delete;
  SessionLink& operator=(const SessionLink&) = delete;

  // Hands the session's pending output to the connection. Returns false if the
  // connection is closed or refused the bytes (the close handler then tells why).
  bool flush() {
    const Bytes out = session_.pending_output();
    bool ok = true;
    if (!out.empty()) {
      const std::size_t n = out.size();
      ok = connection_.write(out);
      // Consumed even on failure: those bytes can never be sent on this
      // connection, and a restart() discards them anyway.
      session_.consume_output(n);
    }
    if (session_.closed() && connection_.is_open()) connection_.close_after_flush();
    return ok && connection_.is_open();
  }

  Session& session() { return session_; }
  Connection& connection() { return connection_; }

 private:
  Session& session_;
  Connection& connection_;
  Connection::CloseHandler on_close_;
  std::shared_ptr<bool> alive_;
};

}  // namespace vscard
