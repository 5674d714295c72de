// SPDX-License-Identifier: LGPL-2.1-or-later
// libvscard's whole API in one include. The layers, lowest first:
//   wire      message.h (types, directions, encode), decoder.h, protocol.h,
//             atr.h, apdu.h, vpcd_frame.h (vsmartcard's vpcd framing)
//   session   client_session.h, host_session.h (sans-I/O state machines),
//             t0_presenter.h and qemu_reader.h (what QEMU's reader can take)
//   transport address.h, connection.h, listener.h, connector.h, tls.h,
//             keepalive.h, transport_error.h (GIO on a GMainContext)
//   glue      session_link.h (a session driving a connection by itself),
//             overloaded.h, printable.h, printable_log.h, utf8.h, glib_ptr.h,
//             decimal.h
// docs/architecture.md draws how the programs use them.
#pragma once

#include "vscard/address.h"
#include "vscard/apdu.h"
#include "vscard/atr.h"
#include "vscard/client_session.h"
#include "vscard/connection.h"
#include "vscard/connector.h"
#include "vscard/decimal.h"
#include "vscard/decoder.h"
#include "vscard/glib_ptr.h"
#include "vscard/host_session.h"
#include "vscard/keepalive.h"
#include "vscard/listener.h"
#include "vscard/message.h"
#include "vscard/overloaded.h"
#include "vscard/printable.h"
#include "vscard/printable_log.h"
#include "vscard/protocol.h"
#include "vscard/qemu_reader.h"
#include "vscard/session_link.h"
#include "vscard/t0_presenter.h"
#include "vscard/tls.h"
#include "vscard/transport_error.h"
#include "vscard/utf8.h"
#include "vscard/vpcd_frame.h"
