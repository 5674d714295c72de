// SPDX-License-Identifier: LGPL-2.1-or-later
// TLS records over GnuTLS on the main context (see gnutls_stream.h).
//
// Three GObject types: the GIOStream, and its pollable input and output
// streams. All three share one Core (the session and the base stream), so a
// source still holding the input stream after the GIOStream is gone never
// touches freed memory.
#define G_LOG_DOMAIN "vscard"
#include "transport/gnutls_stream.h"

#include <sys/socket.h>

#include <cerrno>
#include <memory>

#include "transport/gnutls_lib.h"
#include "transport/socket_util.h"
#include "vscard/glib_ptr.h"

namespace vscard::transport {

namespace {

struct Core {
  gnutls_session_t session;
  GObjectPtr<GIOStream> base;
  GSocket* socket;  // owned by base
  bool bye_sent = false;
  int transport_errno = 0;  // why the last recv/send failed, for the message

  Core(GIOStream* b, gnutls_session_t s) : session(s), base(ref_object(b)), socket(socket_of(b)) {
    tls_lib().gnutls_transport_set_ptr(session, this);
    tls_lib().gnutls_transport_set_pull_function(session, &Core::pull);
    tls_lib().gnutls_transport_set_push_function(session, &Core::push);
  }
  ~Core() { tls_lib().gnutls_deinit(session); }
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // GnuTLS's transport: recv/send without waiting, and MSG_NOSIGNAL so a peer
  // gone away is an error, not SIGPIPE. Nothing once the socket is closed
  // (Connection closes the GSocket, not this stream): its descriptor number
  // may belong to another connection by then, and GIO still closes this
  // stream when it is disposed, which sent close_notify into that one.
  static ssize_t pull(gnutls_transport_ptr_t data, void* buffer, size_t size) {
    auto* core = static_cast<Core*>(data);
    if (g_socket_is_closed(core->socket)) return core->closed_socket();
    return core->noted(recv(g_socket_get_fd(core->socket), buffer, size, MSG_DONTWAIT));
  }
  static ssize_t push(gnutls_transport_ptr_t data, const void* buffer, size_t size) {
    auto* core = static_cast<Core*>(data);
    if (g_socket_is_closed(core->socket)) return core->closed_socket();
    return core->noted(send(g_socket_get_fd(core->socket), buffer, size, MSG_DONTWAIT | MSG_NOSIGNAL));
  }
  ssize_t closed_socket() {
    errno = transport_errno = EBADF;
    return -1;
  }
  // GnuTLS reports any failure of ours as "Error in the pull function": the
  // errno behind it (ECONNRESET...) makes the message a plain socket's.
  ssize_t noted(ssize_t n) {
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) transport_errno = errno;
    return n;
  }

  // close_notify (RFC 8446 6.1), once, without waiting: the socket buffer
  // takes the alert unless the peer stopped reading, and then it is moot.
  void bye() {
    if (bye_sent || g_socket_is_closed(socket)) return;
    bye_sent = true;
    tls_lib().gnutls_bye(session, GNUTLS_SHUT_WR);
  }
};

using CoreRef = std::shared_ptr<Core>;

// GnuTLS's verdict as a GIO error: the socket's own error when recv/send
// failed (a reset reads as it does without TLS), else GnuTLS's text, with the
// alert's name when the peer sent a fatal one.
void set_gnutls_error(const Core& core, GError** error, int rc) {
  if ((rc == GNUTLS_E_PULL_ERROR || rc == GNUTLS_E_PUSH_ERROR) && core.transport_errno != 0) {
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(core.transport_errno), "%s",
                g_strerror(core.transport_errno));
    return;
  }
  if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "TLS: the peer sent the fatal alert '%s'",
                tls_lib().gnutls_alert_get_name(tls_lib().gnutls_alert_get(core.session)));
    return;
  }
  const GIOErrorEnum code = rc == GNUTLS_E_AGAIN ? G_IO_ERROR_WOULD_BLOCK : G_IO_ERROR_FAILED;
  g_set_error(error, G_IO_ERROR, code, "TLS: %s", tls_lib().gnutls_strerror(rc));
}

gssize receive(Core& core, void* buffer, gsize size, GError** error) {
  for (;;) {
    const ssize_t n = tls_lib().gnutls_record_recv(core.session, buffer, size);
    if (n >= 0) return n;
    // Our framing tells where messages end: a peer that drops the TCP
    // connection without close_notify (QEMU on shutdown) simply ended.
    if (n == GNUTLS_E_PREMATURE_TERMINATION) return 0;
    if (n == GNUTLS_E_INTERRUPTED) continue;
    // Warning alerts and post-handshake messages (TLS 1.3 key updates) are
    // handled inside GnuTLS; the next call goes on.
    if (n != GNUTLS_E_AGAIN && !tls_lib().gnutls_error_is_fatal(static_cast<int>(n))) continue;
    set_gnutls_error(core, error, static_cast<int>(n));
    return -1;
  }
}

gssize transmit(Core& core, const void* buffer, gsize size, GError** error) {
  for (;;) {
    const ssize_t n = tls_lib().gnutls_record_send(core.session, buffer, size);
    if (n >= 0) return n;
    if (n == GNUTLS_E_INTERRUPTED) continue;
    set_gnutls_error(core, error, static_cast<int>(n));
    return -1;
  }
}

bool would_block(const GError* error) { return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK); }

// Ready when GnuTLS holds decrypted bytes (a record larger than the last
// read) or the socket is readable; a plain socket source would miss the
// first. Dispatches as a GPollableSourceFunc on `stream`.
struct ReadableSource {
  GSource source;
  CoreRef* core;
  GObject* stream;  // a reference
};

gboolean readable_prepare(GSource* source, gint* timeout) {
  *timeout = -1;
  return tls_lib().gnutls_record_check_pending((*reinterpret_cast<ReadableSource*>(source)->core)->session) > 0;
}

gboolean readable_dispatch(GSource* source, GSourceFunc callback, gpointer data) {
  if (callback == nullptr) return G_SOURCE_CONTINUE;
  return reinterpret_cast<GPollableSourceFunc>(reinterpret_cast<void (*)()>(callback))(
      reinterpret_cast<ReadableSource*>(source)->stream, data);
}

void readable_finalize(GSource* source) {
  auto* self = reinterpret_cast<ReadableSource*>(source);
  std::unique_ptr<CoreRef> owned(self->core);
  g_object_unref(self->stream);
}

GSourceFuncs readable_funcs = {readable_prepare, nullptr, readable_dispatch, readable_finalize, nullptr, nullptr};

GSource* readable_source_new(GObject* stream, const CoreRef& core, GCancellable* cancellable) {
  GSource* source = g_source_new(&readable_funcs, sizeof(ReadableSource));
  g_source_set_static_name(source, "vscard TLS readable");
  auto* self = reinterpret_cast<ReadableSource*>(source);
  self->core = std::make_unique<CoreRef>(core).release();
  self->stream = G_OBJECT(g_object_ref(stream));
  g_source_add_unix_fd(source, g_socket_get_fd(core->socket),
                       static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR));
  if (cancellable) {
    GSource* cancelled = g_cancellable_source_new(cancellable);
    g_source_set_dummy_callback(cancelled);
    g_source_add_child_source(source, cancelled);
    g_source_unref(cancelled);
  }
  return source;
}

}  // namespace
}  // namespace vscard::transport

using vscard::transport::Core;
using vscard::transport::CoreRef;
using vscard::transport::tls_lib;

extern "C" {

// --- input ---
struct VscardTlsInput {
  GInputStream parent;
  CoreRef* core;
};
struct VscardTlsInputClass {
  GInputStreamClass parent_class;
};
static void vscard_tls_input_pollable_init(GPollableInputStreamInterface* iface);
G_DEFINE_TYPE_WITH_CODE(VscardTlsInput, vscard_tls_input, G_TYPE_INPUT_STREAM,
                        G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_INPUT_STREAM, vscard_tls_input_pollable_init))

static Core& input_core(gpointer stream) { return **reinterpret_cast<VscardTlsInput*>(stream)->core; }

static gssize vscard_tls_input_read(GInputStream* stream, void* buffer, gsize size, GCancellable* cancellable,
                                    GError** error) {
  Core& core = input_core(stream);
  for (;;) {
    GError* local = nullptr;
    const gssize n = vscard::transport::receive(core, buffer, size, &local);
    if (n >= 0 || !vscard::transport::would_block(local)) {
      if (local) g_propagate_error(error, local);
      return n;
    }
    g_error_free(local);
    if (!g_socket_condition_wait(core.socket, G_IO_IN, cancellable, error)) return -1;
  }
}

static gboolean vscard_tls_input_is_readable(GPollableInputStream* stream) {
  Core& core = input_core(stream);
  return tls_lib().gnutls_record_check_pending(core.session) > 0 || g_socket_condition_check(core.socket, G_IO_IN) != 0;
}

static GSource* vscard_tls_input_create_source(GPollableInputStream* stream, GCancellable* cancellable) {
  return vscard::transport::readable_source_new(G_OBJECT(stream), *reinterpret_cast<VscardTlsInput*>(stream)->core,
                                                cancellable);
}

static gssize vscard_tls_input_read_nonblocking(GPollableInputStream* stream, void* buffer, gsize size,
                                                GError** error) {
  return vscard::transport::receive(input_core(stream), buffer, size, error);
}

static void vscard_tls_input_pollable_init(GPollableInputStreamInterface* iface) {
  iface->is_readable = vscard_tls_input_is_readable;
  iface->create_source = vscard_tls_input_create_source;
  iface->read_nonblocking = vscard_tls_input_read_nonblocking;
}

static void vscard_tls_input_finalize(GObject* object) {
  std::unique_ptr<CoreRef> owned(reinterpret_cast<VscardTlsInput*>(object)->core);
  G_OBJECT_CLASS(vscard_tls_input_parent_class)->finalize(object);
}

static void vscard_tls_input_class_init(VscardTlsInputClass* klass) {
  G_OBJECT_CLASS(klass)->finalize = vscard_tls_input_finalize;
  G_INPUT_STREAM_CLASS(klass)->read_fn = vscard_tls_input_read;
}

static void vscard_tls_input_init(VscardTlsInput*) {}

// --- output ---
struct VscardTlsOutput {
  GOutputStream parent;
  CoreRef* core;
};
struct VscardTlsOutputClass {
  GOutputStreamClass parent_class;
};
static void vscard_tls_output_pollable_init(GPollableOutputStreamInterface* iface);
G_DEFINE_TYPE_WITH_CODE(VscardTlsOutput, vscard_tls_output, G_TYPE_OUTPUT_STREAM,
                        G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_OUTPUT_STREAM, vscard_tls_output_pollable_init))

static Core& output_core(gpointer stream) { return **reinterpret_cast<VscardTlsOutput*>(stream)->core; }

static gssize vscard_tls_output_write(GOutputStream* stream, const void* buffer, gsize size,
                                      GCancellable* cancellable, GError** error) {
  Core& core = output_core(stream);
  for (;;) {
    GError* local = nullptr;
    const gssize n = vscard::transport::transmit(core, buffer, size, &local);
    if (n >= 0 || !vscard::transport::would_block(local)) {
      if (local) g_propagate_error(error, local);
      return n;
    }
    g_error_free(local);
    if (!g_socket_condition_wait(core.socket, G_IO_OUT, cancellable, error)) return -1;
  }
}

static gboolean vscard_tls_output_close(GOutputStream* stream, GCancellable*, GError**) {
  output_core(stream).bye();
  return TRUE;
}

static gboolean vscard_tls_output_is_writable(GPollableOutputStream* stream) {
  return g_socket_condition_check(output_core(stream).socket, G_IO_OUT) != 0;
}

static GSource* vscard_tls_output_create_source(GPollableOutputStream* stream, GCancellable* cancellable) {
  GSource* child = g_socket_create_source(output_core(stream).socket, G_IO_OUT, nullptr);
  GSource* source = g_pollable_source_new_full(stream, child, cancellable);
  g_source_unref(child);
  return source;
}

static gssize vscard_tls_output_write_nonblocking(GPollableOutputStream* stream, const void* buffer, gsize size,
                                                  GError** error) {
  return vscard::transport::transmit(output_core(stream), buffer, size, error);
}

static void vscard_tls_output_pollable_init(GPollableOutputStreamInterface* iface) {
  iface->is_writable = vscard_tls_output_is_writable;
  iface->create_source = vscard_tls_output_create_source;
  iface->write_nonblocking = vscard_tls_output_write_nonblocking;
}

static void vscard_tls_output_finalize(GObject* object) {
  std::unique_ptr<CoreRef> owned(reinterpret_cast<VscardTlsOutput*>(object)->core);
  G_OBJECT_CLASS(vscard_tls_output_parent_class)->finalize(object);
}

static void vscard_tls_output_class_init(VscardTlsOutputClass* klass) {
  G_OBJECT_CLASS(klass)->finalize = vscard_tls_output_finalize;
  G_OUTPUT_STREAM_CLASS(klass)->write_fn = vscard_tls_output_write;
  G_OUTPUT_STREAM_CLASS(klass)->close_fn = vscard_tls_output_close;
}

static void vscard_tls_output_init(VscardTlsOutput*) {}

// --- the stream ---
struct VscardTlsStream {
  GIOStream parent;
  CoreRef* core;
  GInputStream* input;
  GOutputStream* output;
};
struct VscardTlsStreamClass {
  GIOStreamClass parent_class;
};
G_DEFINE_TYPE(VscardTlsStream, vscard_tls_stream, G_TYPE_IO_STREAM)

static GInputStream* vscard_tls_stream_get_input(GIOStream* stream) {
  return reinterpret_cast<VscardTlsStream*>(stream)->input;
}

static GOutputStream* vscard_tls_stream_get_output(GIOStream* stream) {
  return reinterpret_cast<VscardTlsStream*>(stream)->output;
}

static gboolean vscard_tls_stream_close(GIOStream* stream, GCancellable* cancellable, GError** error) {
  Core& core = **reinterpret_cast<VscardTlsStream*>(stream)->core;
  core.bye();
  return g_io_stream_close(core.base.get(), cancellable, error);
}

static void vscard_tls_stream_finalize(GObject* object) {
  auto* self = reinterpret_cast<VscardTlsStream*>(object);
  g_clear_object(&self->input);
  g_clear_object(&self->output);
  std::unique_ptr<CoreRef> owned(self->core);
  G_OBJECT_CLASS(vscard_tls_stream_parent_class)->finalize(object);
}

static void vscard_tls_stream_class_init(VscardTlsStreamClass* klass) {
  G_OBJECT_CLASS(klass)->finalize = vscard_tls_stream_finalize;
  GIOStreamClass* io = G_IO_STREAM_CLASS(klass);
  io->get_input_stream = vscard_tls_stream_get_input;
  io->get_output_stream = vscard_tls_stream_get_output;
  io->close_fn = vscard_tls_stream_close;
}

static void vscard_tls_stream_init(VscardTlsStream*) {}

}  // extern "C"

namespace vscard::transport {

GIOStream* gnutls_stream_new(GIOStream* base, gnutls_session_t session) {
  auto core = std::make_shared<Core>(base, session);
  auto* input = static_cast<VscardTlsInput*>(g_object_new(vscard_tls_input_get_type(), nullptr));
  input->core = std::make_unique<CoreRef>(core).release();
  auto* output = static_cast<VscardTlsOutput*>(g_object_new(vscard_tls_output_get_type(), nullptr));
  output->core = std::make_unique<CoreRef>(core).release();
  auto* stream = static_cast<VscardTlsStream*>(g_object_new(vscard_tls_stream_get_type(), nullptr));
  stream->core = std::make_unique<CoreRef>(core).release();
  stream->input = G_INPUT_STREAM(input);
  stream->output = G_OUTPUT_STREAM(output);
  return G_IO_STREAM(stream);
}

GIOStream* gnutls_stream_base(GIOStream* stream) {
  if (stream == nullptr || !G_TYPE_CHECK_INSTANCE_TYPE(stream, vscard_tls_stream_get_type())) return nullptr;
  return (*reinterpret_cast<VscardTlsStream*>(stream)->core)->base.get();
}

}  // namespace vscard::transport
