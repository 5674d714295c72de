// SPDX-License-Identifier: LGPL-2.1-or-later
// Connection: one connected byte stream (TCP, Unix or TLS over either) driven by
// the GMainContext that was thread-default when it was created.
//
// Reads go into one reusable buffer and are handed to the data handler as a byte
// span (feed it to ClientSession/HostSession::receive). Writes are copied into a
// bounded queue and sent asynchronously; a peer that stops reading cannot make
// us buffer without bound: once more than Options::max_write_queue bytes are
// queued the connection is closed with CloseReason::Kind::WriteQueueOverflow.
//
//   conn->start([&](vscard::Bytes data) { session.receive(data); ... },
//               [&](const vscard::CloseReason& why) { g_message("%s", why.message.c_str()); });
//
// All methods must be called from the thread that owns the context; handlers run
// from that context's dispatch, never from inside write() or close(). A handler
// may destroy the Connection.
#pragma once

#include <gio/gio.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "vscard/keepalive.h"
#include "vscard/message.h"
#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

struct CloseReason {
  enum class Kind {
    PeerClosed,          // orderly end of stream from the peer
    Error,               // a read, write or TLS error (message says which)
    WriteQueueOverflow,  // the peer did not read; see Connection::Options
    Local,               // close_after_flush() finished
  };
  Kind kind = Kind::PeerClosed;
  // One line for a log: "peer closed the connection", "read failed: Connection
  // reset by peer", "write queue overflow: ...".
  std::string message;
};

class Connection {
 public:
  struct Options {
    // Size of the reusable read buffer (one read delivers at most this much).
    std::size_t read_buffer_size = 64 * 1024;
    // Most bytes queued for writing (not yet accepted by the kernel/TLS layer);
    // queuing more closes the connection (back-pressure limit).
    std::size_t max_write_queue = 1024 * 1024;
    // TCP keepalive; nullopt leaves the kernel default (off). Ignored for Unix.
    std::optional<Keepalive> keepalive;
  };
  using DataHandler = std::function<void(Bytes data)>;
  using CloseHandler = std::function<void(const CloseReason& reason)>;

  // Wraps a connected stream: a GSocketConnection, or a GTlsConnection whose
  // handshake is done (Listener and Connector make these; tests may too).
  // Takes its own reference. Sets TCP_NODELAY, and keepalive if configured, on
  // TCP sockets; fails only if setting them fails.
  static std::unique_ptr<Connection> adopt(GIOStream* stream, const Options& options,
                                           GError** error);

  // Closes the stream (queued bytes are dropped); no handler is called.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts reading. `on_data` gets each chunk read (the span is valid only during
  // the call); `on_close` is called once when the connection ends for any reason
  // other than close() or destruction.
  void start(DataHandler on_data, CloseHandler on_close);

  // Queues `data` for sending. False if the connection is closed or the queue
  // would exceed max_write_queue (the connection is then closed and on_close is
  // called from the main loop with Kind::WriteQueueOverflow).
  bool write(Bytes data);

  // Sends what is queued, then closes; on_close(Kind::Local). Data arriving
  // meanwhile is discarded. After the last byte our sending side is shut down
  // and the peer gets up to 2 s to close its side, so that unread input does
  // not turn the close into a reset that could lose our last bytes.
  void close_after_flush();
  // Closes now; queued bytes are dropped; no handler is called.
  void close();

  bool is_open() const;
  std::size_t queued_bytes() const;
  // The peer as text: "127.0.0.1:50312", "[::1]:2001", "unix:/run/x.sock".
  const std::string& peer() const;
  bool is_tls() const;
  // The underlying socket (e.g. for getsockopt); owned by the connection.
  GSocket* socket() const;

 private:
  // Made by adopt() only (Listener and Connector call it); the state is libvscard's.
  Connection() = default;
  struct VSCARD_HIDDEN Impl;
  std::shared_ptr<Impl> impl_;
};

VSCARD_API_END
}  // namespace vscard
