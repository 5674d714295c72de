// SPDX-License-Identifier: LGPL-2.1-or-later
// Connection: async reads into one buffer, async writes from a bounded queue
// (see vscard/connection.h).
//
// Lifetime: the public Connection owns a shared Impl. Each pending GIO operation
// holds a strong reference to the Impl (read_ref/write_ref, moved out first
// thing in the callback), so closing or destroying the Connection only cancels;
// the Impl goes away once GIO has reported the cancellation.
#define G_LOG_DOMAIN "vscard"
#include "vscard/connection.h"

#include <memory>
#include <utility>
#include <vector>

#include "transport/gnutls_stream.h"
#include "transport/socket_util.h"
#include "vscard/glib_ptr.h"
#include "vscard/transport_error.h"

namespace vscard {

struct Connection::Impl : std::enable_shared_from_this<Impl> {
  GObjectPtr<GIOStream> stream;
  GInputStream* input = nullptr;    // owned by stream
  GOutputStream* output = nullptr;  // owned by stream
  GSocket* socket = nullptr;        // owned by stream
  // Set when the streams can poll (sockets and TLS over them: always, in
  // practice). Reads then use one readable-source for the connection's life
  // and writes go out at once when the kernel takes them; the asynchronous
  // GIO calls cost a GTask, a new GSource and extra main-loop rounds per
  // message (measured in tests/bench, issue 10). Other streams use them still.
  GPollableInputStream* pollable_input = nullptr;
  GPollableOutputStream* pollable_output = nullptr;
  // Separate so that close_after_flush() can stop reading and keep writing.
  GObjectPtr<GCancellable> read_cancellable{g_cancellable_new()};
  GObjectPtr<GCancellable> write_cancellable{g_cancellable_new()};
  GMainContextPtr context{g_main_context_ref_thread_default()};
  Options options;
  std::string peer;
  bool tls = false;

  DataHandler on_data;
  CloseHandler on_close;
  bool started = false;
  bool open = true;
  // close_after_flush(): no more writes accepted, reads are discarded. Once the
  // queue is sent we shut down our sending side and wait for the peer's end of
  // stream (or kLingerSeconds): closing with unread input would make the kernel
  // send a reset, which can destroy our last bytes before the peer reads them.
  bool draining = false;
  bool half_closed = false;
  bool peer_done = false;  // end of stream or error seen while draining
  GSourcePtr linger_timer;

  // Not value-initialised: zero-filling would make all of it resident at once
  // for every connection, while a read touches only the pages it fills
  // (vschost with 1000 clients, tests/bench).
  std::unique_ptr<std::uint8_t[]> read_buffer;
  std::size_t read_buffer_size = 0;
  std::shared_ptr<Impl> read_ref;  // set while a read is pending
  GSourcePtr read_source;          // pollable input: attached while reading

  // `writing` belongs to the pending write (GIO holds a pointer into it);
  // write() appends to `queue`; they swap when `writing` is done.
  std::vector<std::uint8_t> writing;
  std::size_t writing_offset = 0;
  std::vector<std::uint8_t> queue;
  std::shared_ptr<Impl> write_ref;  // set while a write is pending

  std::optional<CloseReason> close_reason;  // to report through on_close
  GSourcePtr notify_source;
  bool stream_closed = false;

  ~Impl() { close_stream(); }

  std::size_t queued() const { return writing.size() - writing_offset + queue.size(); }

  void start_read() {
    if (!open || read_ref || (draining && peer_done)) return;
    read_ref = shared_from_this();
    if (pollable_input) {
      // GLib takes a non-recursive source's fd out of the poll set for each
      // dispatch and puts it back afterwards, waking the context twice per
      // read (GLib 2.74 block_source/unblock_source). Nothing here runs a
      // nested main loop, so the fd can stay. A plain socket's pollable
      // source is a wrapper whose fd sits in a child GSocketSource, which is
      // dispatched on its own and is not recursive: two eventfd writes, a
      // poll and a read more per APDU (strace -c, issue 19). So a plain
      // socket is watched with its own GSocketSource, without the wrapper.
      if (socket != nullptr && G_IS_SOCKET_CONNECTION(stream.get())) {
        read_source.reset(g_socket_create_source(socket, G_IO_IN, nullptr));
        g_source_set_callback(read_source.get(), G_SOURCE_FUNC(&Impl::socket_readable), this,
                              nullptr);
      } else {
        read_source.reset(g_pollable_input_stream_create_source(pollable_input, nullptr));
        g_source_set_callback(read_source.get(), G_SOURCE_FUNC(&Impl::readable), this, nullptr);
      }
      g_source_set_can_recurse(read_source.get(), TRUE);
      g_source_attach(read_source.get(), context.get());
      return;
    }
    g_input_stream_read_async(input, read_buffer.get(), read_buffer_size, G_PRIORITY_DEFAULT,
                              read_cancellable.get(), &Impl::read_done, this);
  }

  static void read_done(GObject* source, GAsyncResult* result, gpointer data) {
    auto self = std::move(static_cast<Impl*>(data)->read_ref);
    GErrorPtr error;
    const gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, error.out());
    self->read_finished(n, error);
  }

  // GSocketSourceFunc: the plain socket's readable-source (start_read()).
  static gboolean socket_readable(GSocket*, GIOCondition, gpointer data) {
    return readable(nullptr, data);
  }

  // The read source's callback: reads what is there and stays attached until
  // the stream ends, fails, or the connection closes.
  static gboolean readable(GObject*, gpointer data) {
    auto self = static_cast<Impl*>(data)->shared_from_this();
    GErrorPtr error;
    const gssize n = g_pollable_input_stream_read_nonblocking(
        self->pollable_input, self->read_buffer.get(), self->read_buffer_size, nullptr,
        error.out());
    if (n < 0 && g_error_matches(error.get(), G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      return G_SOURCE_CONTINUE;
    if (n > 0 && self->open && self->draining) return G_SOURCE_CONTINUE;  // discarded
    if (n > 0 && self->open) {
      if (self->on_data) self->on_data(Bytes(self->read_buffer.get(), static_cast<std::size_t>(n)));
      // The handler may have closed the connection, which dropped the source.
      return self->read_source ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
    }
    self->stop_read_source();
    self->read_finished(n, error);
    return G_SOURCE_REMOVE;
  }

  void stop_read_source() {
    if (!read_source) return;
    read_source.reset();
    read_ref.reset();  // callers hold their own reference
  }

  // What a finished read means (both read paths).
  void read_finished(gssize n, const GErrorPtr& error) {
    if (!open) return maybe_close_stream();
    if (draining) {
      if (n > 0) return start_read();  // discarded: nobody wants it now
      peer_done = true;
      if (half_closed) finish(CloseReason{CloseReason::Kind::Local, "closed after sending all data"});
      return;
    }
    if (n < 0) {
      if (g_error_matches(error.get(), G_TLS_ERROR, G_TLS_ERROR_EOF))
        return fail(CloseReason::Kind::PeerClosed, "peer closed the connection without TLS close_notify");
      // With TLS 1.3 a server's verdict on our client certificate arrives after
      // our side of the handshake is done, i.e. on the first read.
      if (g_error_matches(error.get(), G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED))
        return fail(CloseReason::Kind::Error, transport::kClientCertificateRequired);
      const char* layer = error->domain == G_TLS_ERROR ? "TLS error: " : "read failed: ";
      return fail(CloseReason::Kind::Error, layer + transport::explain_io_error(error.get()));
    }
    if (n == 0) return fail(CloseReason::Kind::PeerClosed, "peer closed the connection");
    if (on_data) on_data(Bytes(read_buffer.get(), static_cast<std::size_t>(n)));
    start_read();
    maybe_close_stream();
  }

  bool write(Bytes data) {
    if (!open || draining) return false;
    if (data.size() > options.max_write_queue - std::min(options.max_write_queue, queued())) {
      fail(CloseReason::Kind::WriteQueueOverflow,
           "write queue overflow: " + std::to_string(queued() + data.size()) +
               " bytes would be queued (limit " + std::to_string(options.max_write_queue) +
               "); the peer is not reading");
      return false;
    }
    queue.insert(queue.end(), data.begin(), data.end());
    start_write();
    return true;
  }

  void start_write() {
    if (!open || write_ref) return;
    while (true) {
      if (writing_offset == writing.size()) {
        writing.clear();
        writing_offset = 0;
        std::swap(writing, queue);  // both keep their capacity: no allocation once warm
      }
      if (writing.empty()) {
        if (draining && !half_closed) half_close();
        return;
      }
      if (!write_now()) break;
      if (!open) return;
    }
    write_ref = shared_from_this();
    g_output_stream_write_async(output, writing.data() + writing_offset, writing.size() - writing_offset,
                                G_PRIORITY_DEFAULT, write_cancellable.get(), &Impl::write_done, this);
  }

  // Writes what the kernel takes without waiting. False when the stream would
  // block (or cannot poll): the asynchronous write takes over. A failure ends
  // the connection (on_close runs later from the main loop, never in here).
  bool write_now() {
    if (!pollable_output) return false;
    GErrorPtr error;
    const gssize n = g_pollable_output_stream_write_nonblocking(
        pollable_output, writing.data() + writing_offset, writing.size() - writing_offset, nullptr,
        error.out());
    if (n < 0 && g_error_matches(error.get(), G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) return false;
    if (n < 0) {
      fail(CloseReason::Kind::Error, "write failed: " + transport::explain_io_error(error.get()));
      return true;
    }
    writing_offset += static_cast<std::size_t>(n);
    return true;
  }

  static void write_done(GObject* source, GAsyncResult* result, gpointer data) {
    auto self = std::move(static_cast<Impl*>(data)->write_ref);
    GErrorPtr error;
    const gssize n = g_output_stream_write_finish(G_OUTPUT_STREAM(source), result, error.out());
    if (!self->open) return self->maybe_close_stream();
    if (n < 0)
      return self->fail(CloseReason::Kind::Error,
                        "write failed: " + transport::explain_io_error(error.get()));
    self->writing_offset += static_cast<std::size_t>(n);
    self->start_write();
    self->maybe_close_stream();
  }

  static constexpr guint kLingerSeconds = 2;

  void half_close() {
    half_closed = true;
    if (tls && !peer_done) {
      // An orderly TLS end says so with close_notify (RFC 8446 6.1): closing
      // the TLS output stream sends it (gnutls_bye
      // with GNUTLS_SHUT_WR) and leaves reading open. Everything queued has
      // been written, so the alert fits in the socket buffer at once.
      g_output_stream_close(output, nullptr, nullptr);
    }
    if (peer_done || socket == nullptr || !g_socket_shutdown(socket, FALSE, TRUE, nullptr))
      return finish(CloseReason{CloseReason::Kind::Local, "closed after sending all data"});
    start_read();
    linger_timer.reset(g_timeout_source_new_seconds(kLingerSeconds));
    g_source_set_callback(linger_timer.get(), &Impl::linger_over, this, nullptr);
    g_source_attach(linger_timer.get(), context.get());
  }

  static gboolean linger_over(gpointer data) {
    auto self = static_cast<Impl*>(data)->shared_from_this();
    GSource* source = self->linger_timer.release();
    self->finish(CloseReason{CloseReason::Kind::Local, "closed after sending all data"});
    g_source_unref(source);
    return G_SOURCE_REMOVE;
  }

  // Ends the connection and reports `reason` through on_close (from the main loop).
  void fail(CloseReason::Kind kind, std::string message) {
    // The owner gets `reason` and writes the one log line a user sees
    // (vschost: "client N disconnected: ..."); the library's own is debug only.
    g_debug("connection to %s closed: %s", peer.c_str(), message.c_str());
    finish(CloseReason{kind, std::move(message)});
  }

  void finish(std::optional<CloseReason> reason) {
    if (!open) return;
    open = false;
    linger_timer.reset();
    stop_read_source();
    g_cancellable_cancel(read_cancellable.get());
    g_cancellable_cancel(write_cancellable.get());
    queue = {};
    writing = {};
    writing_offset = 0;
    if (reason) {
      close_reason = std::move(reason);
      if (started) schedule_notify();
    }
    maybe_close_stream();
  }

  void schedule_notify() {
    notify_source.reset(g_idle_source_new());
    g_source_set_callback(notify_source.get(), &Impl::notify, this, nullptr);
    g_source_attach(notify_source.get(), context.get());
  }

  static gboolean notify(gpointer data) {
    auto self = static_cast<Impl*>(data)->shared_from_this();
    auto reason = std::move(self->close_reason);
    self->close_reason.reset();
    // Detach before calling out: the handler may destroy the Connection.
    GSource* source = self->notify_source.release();
    if (reason && self->on_close) self->on_close(*reason);
    g_source_unref(source);
    return G_SOURCE_REMOVE;
  }

  // Closes the socket once no GIO operation is using the stream any more.
  void maybe_close_stream() {
    if (open || read_ref || write_ref) return;
    close_stream();
  }

  void close_stream() {
    if (stream_closed || !stream) return;
    stream_closed = true;
    // Closing the socket directly: a TLS close_notify could block on a peer that
    // never reads (the overflow case), and an orderly end needs no more than the FIN.
    if (socket) g_socket_close(socket, nullptr);
    else g_io_stream_close(stream.get(), nullptr, nullptr);
  }
};

std::unique_ptr<Connection> Connection::adopt(GIOStream* stream, const Options& options, GError** error) {
  auto impl = std::make_shared<Impl>();
  impl->stream = ref_object(stream);
  impl->input = g_io_stream_get_input_stream(stream);
  impl->output = g_io_stream_get_output_stream(stream);
  impl->socket = transport::socket_of(stream);
  if (G_IS_POLLABLE_INPUT_STREAM(impl->input) &&
      g_pollable_input_stream_can_poll(G_POLLABLE_INPUT_STREAM(impl->input)))
    impl->pollable_input = G_POLLABLE_INPUT_STREAM(impl->input);
  if (G_IS_POLLABLE_OUTPUT_STREAM(impl->output) &&
      g_pollable_output_stream_can_poll(G_POLLABLE_OUTPUT_STREAM(impl->output)))
    impl->pollable_output = G_POLLABLE_OUTPUT_STREAM(impl->output);
  impl->options = options;
  if (impl->options.read_buffer_size == 0) impl->options.read_buffer_size = 64 * 1024;
  impl->read_buffer_size = impl->options.read_buffer_size;
  impl->read_buffer = std::make_unique_for_overwrite<std::uint8_t[]>(impl->read_buffer_size);
  impl->peer = transport::describe_peer(stream);
  impl->tls = G_IS_TLS_CONNECTION(stream) || transport::gnutls_stream_base(stream) != nullptr;
  if (!transport::apply_tcp_options(impl->socket, options.keepalive, error)) {
    impl->finish(std::nullopt);
    return nullptr;
  }
  std::unique_ptr<Connection> connection(new Connection());
  connection->impl_ = std::move(impl);
  return connection;
}


Connection::~Connection() {
  impl_->notify_source.reset();
  impl_->finish(std::nullopt);
}

void Connection::start(DataHandler on_data, CloseHandler on_close) {
  impl_->on_data = std::move(on_data);
  impl_->on_close = std::move(on_close);
  impl_->started = true;
  if (!impl_->open) {
    if (impl_->close_reason) impl_->schedule_notify();
    return;
  }
  impl_->start_read();
}

bool Connection::write(Bytes data) { return impl_->write(data); }

void Connection::close_after_flush() {
  if (!impl_->open || impl_->draining) return;
  impl_->draining = true;
  impl_->start_read();  // to notice the peer's end of stream (reads are discarded)
  impl_->start_write();
}

void Connection::close() {
  impl_->notify_source.reset();
  impl_->close_reason.reset();
  impl_->finish(std::nullopt);
}

bool Connection::is_open() const { return impl_->open && !impl_->draining; }
std::size_t Connection::queued_bytes() const { return impl_->queued(); }
const std::string& Connection::peer() const { return impl_->peer; }
bool Connection::is_tls() const { return impl_->tls; }
GSocket* Connection::socket() const { return impl_->socket; }

}  // namespace vscard
