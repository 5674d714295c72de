// SPDX-License-Identifier: LGPL-2.1-or-later
// One rule for the decimal numbers that come as text (ports, keepalive fields,
// script lengths, console reader ids): the whole text is the number, with no
// blank, sign or suffix around it, and the number lies in [min, max].
//
//   auto port = vscard::parse_decimal<unsigned>("2001", 0, 65535);   // 2001
//   vscard::parse_decimal<unsigned>("20x1", 0, 65535);               // nullopt
//
// Header-only: nothing of it is exported.
#pragma once

#include <charconv>
#include <concepts>
#include <limits>
#include <optional>
#include <string_view>

namespace vscard {

template <std::integral T>
std::optional<T> parse_decimal(std::string_view text, T min = std::numeric_limits<T>::min(),
                               T max = std::numeric_limits<T>::max()) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace vscard
