// SPDX-License-Identifier: LGPL-2.1-or-later
#include "wire/utf8.h"

#include "vscard/utf8.h"

namespace vscard::wire {

std::size_t decode_utf8(std::string_view text, std::uint32_t& cp) {
  if (text.empty()) return 0;
  const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
  const std::uint8_t b = p[0];
  if (b < 0x80) {
    cp = b;
    return 1;
  }
  std::size_t extra;
  std::uint32_t min;
  if ((b & 0xE0) == 0xC0) {
    extra = 1, cp = b & 0x1F, min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    extra = 2, cp = b & 0x0F, min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    extra = 3, cp = b & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (text.size() <= extra) return 0;
  for (std::size_t i = 1; i <= extra; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return extra + 1;
}

bool is_valid_utf8(std::string_view text) {
  while (!text.empty()) {
    std::uint32_t cp = 0;
    std::size_t n = decode_utf8(text, cp);
    if (n == 0 || cp == 0) return false;
    text.remove_prefix(n);
  }
  return true;
}

}  // namespace vscard::wire

namespace vscard {

std::size_t utf8_sequence_length(std::string_view text) {
  std::uint32_t cp = 0;
  return wire::decode_utf8(text, cp);
}

}  // namespace vscard
