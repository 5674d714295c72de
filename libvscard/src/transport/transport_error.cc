// SPDX-License-Identifier: LGPL-2.1-or-later
// The transport error domain (see vscard/transport_error.h).
#include "vscard/transport_error.h"

namespace vscard {

GQuark transport_error_quark() { return g_quark_from_static_string("vscard-transport-error-quark"); }

void set_transport_error(GError** error, TransportError code, const char* message) {
  g_set_error_literal(error, VSCARD_TRANSPORT_ERROR, static_cast<int>(code), message);
}

}  // namespace vscard
