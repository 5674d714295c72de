// SPDX-License-Identifier: LGPL-2.1-or-later
// Internal: a GIOStream carrying TLS records with GnuTLS directly, driven by
// socket readiness on the caller's main context, with no thread. The server
// side of a TLS listener uses it instead of GTlsConnection, because
// glib-networking runs every handshake on a thread of GLib's shared GTask pool
// (10 threads, grown by one every 0.1 s or more): a few dozen peers that stall
// mid-handshake held every thread and delayed real clients by seconds (issue
// 18; docs/security.md). Reads and writes are pollable, so Connection uses its
// non-blocking path; closing the output stream sends close_notify.
#pragma once

#include <gio/gio.h>
#include <gnutls/gnutls.h>

namespace vscard::transport {

// A stream over `base` (an accepted GSocketConnection) for `session`, whose
// handshake has completed. Takes `session` (deinitialised with the stream)
// and a reference to `base`.
GIOStream* gnutls_stream_new(GIOStream* base, gnutls_session_t session);

// The base stream if `stream` is one of ours, else null.
GIOStream* gnutls_stream_base(GIOStream* stream);

}  // namespace vscard::transport
