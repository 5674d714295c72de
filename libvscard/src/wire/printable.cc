// SPDX-License-Identifier: LGPL-2.1-or-later
// The escaping rule of vscard/printable.h. The UTF-8 decoding is the one
// wire::is_valid_utf8 uses (wire/utf8.h), so "valid" means the same everywhere.
#include "vscard/printable.h"

#include <cstdio>

#include "wire/utf8.h"

namespace vscard {
namespace {

bool needs_unicode_escape(std::uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

void append_byte_escape(std::string& out, unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", b);
  out += buf;
}

}  // namespace

std::string printable(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    std::uint32_t cp = 0;
    std::size_t n = wire::decode_utf8(bytes.substr(i), cp);
    if (n == 0) {
      append_byte_escape(out, static_cast<unsigned char>(bytes[i]));
      ++i;
      continue;
    }
    if (n == 1) {
      char c = bytes[i];
      switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (cp < 0x20 || cp == 0x7F) {
            append_byte_escape(out, static_cast<unsigned char>(c));
          } else {
            out += c;
          }
      }
    } else if (needs_unicode_escape(cp)) {
      char buf[12];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(bytes.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace vscard
