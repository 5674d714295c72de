// SPDX-License-Identifier: LGPL-2.1-or-later
// Log writers that escape the MESSAGE field (vscard/printable_log.h).
#include "vscard/printable_log.h"

#include <cstring>
#include <vector>

#include "vscard/printable.h"

namespace vscard {

namespace {

// A copy of the fields whose MESSAGE points at `storage` (printable form).
std::vector<GLogField> with_printable_message(const GLogField* fields, gsize n,
                                              std::string& storage) {
  std::vector<GLogField> copy(fields, fields + n);
  for (auto& f : copy) {
    if (std::strcmp(f.key, "MESSAGE") != 0 || f.value == nullptr) continue;
    const auto* text = static_cast<const char*>(f.value);
    storage = printable(f.length < 0 ? std::string_view(text)
                                     : std::string_view(text, static_cast<std::size_t>(f.length)));
    f.value = storage.c_str();
    f.length = -1;
  }
  return copy;
}

}  // namespace

GLogWriterOutput printable_log_writer(GLogLevelFlags level, const GLogField* fields,
                                      gsize n_fields, gpointer user_data) {
  std::string storage;
  auto copy = with_printable_message(fields, n_fields, storage);
  return g_log_writer_default(level, copy.data(), copy.size(), user_data);
}

std::string format_log_fields_printable(GLogLevelFlags level, const GLogField* fields,
                                        gsize n_fields) {
  std::string storage;
  auto copy = with_printable_message(fields, n_fields, storage);
  g_autofree char* line = g_log_writer_format_fields(level, copy.data(), copy.size(), FALSE);
  return line;
}

}  // namespace vscard
