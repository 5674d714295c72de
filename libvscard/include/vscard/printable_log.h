// SPDX-License-Identifier: LGPL-2.1-or-later
// Log lines through vscard::printable() (see printable.h): GLib's writers print
// the MESSAGE field as it is, and ours carry peer text.
#pragma once

#include <string>

#include <glib.h>

#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

// A GLib structured-log writer that passes the MESSAGE field through
// printable() and then writes like g_log_writer_default(): log lines carry
// peer text (reader names, peer addresses, TLS errors) and must neither span
// lines nor carry terminal escapes. Install it with g_log_set_writer_func().
GLogWriterOutput printable_log_writer(GLogLevelFlags level, const GLogField* fields,
                                      gsize n_fields, gpointer user_data);

// The same fields with MESSAGE made printable, formatted like
// g_log_writer_format_fields() (for writers that print to a stream themselves).
std::string format_log_fields_printable(GLogLevelFlags level, const GLogField* fields,
                                        gsize n_fields);

VSCARD_API_END
}  // namespace vscard
