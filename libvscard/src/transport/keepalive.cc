// SPDX-License-Identifier: LGPL-2.1-or-later
// "idle,interval,count" keepalive settings (see vscard/keepalive.h).
#include "vscard/keepalive.h"

#include <array>

#include "vscard/decimal.h"
#include "vscard/transport_error.h"

namespace vscard {

std::optional<Keepalive> Keepalive::parse(std::string_view text, GError** error) {
  // Linux's limits for TCP_KEEPIDLE/TCP_KEEPINTVL (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL)
  // and TCP_KEEPCNT (MAX_TCP_KEEPCNT), include/net/tcp.h.
  struct Field {
    const char* name;
    int max;
  };
  static constexpr std::array<Field, 3> kFields{{{"idle", 32767}, {"interval", 32767}, {"count", 127}}};
  std::array<int, 3> values{};
  std::string_view rest = text;
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    const auto comma = rest.find(',');
    const bool last = i + 1 == kFields.size();
    if (last != (comma == std::string_view::npos)) {
      g_set_error(error, VSCARD_TRANSPORT_ERROR, static_cast<int>(TransportError::InvalidKeepalive),
                  "invalid keepalive '%.*s': expected three numbers IDLE,INTERVAL,COUNT (e.g. 60,10,6)",
                  static_cast<int>(text.size()), text.data());
      return std::nullopt;
    }
    const std::string_view field = last ? rest : rest.substr(0, comma);
    const auto value = parse_decimal<int>(field, 1, kFields[i].max);
    if (!value) {
      g_set_error(error, VSCARD_TRANSPORT_ERROR, static_cast<int>(TransportError::InvalidKeepalive),
                  "invalid keepalive '%.*s': %s must be a whole number from 1 to %d",
                  static_cast<int>(text.size()), text.data(), kFields[i].name, kFields[i].max);
      return std::nullopt;
    }
    values[i] = *value;
    if (!last) rest = rest.substr(comma + 1);
  }
  return Keepalive{values[0], values[1], values[2]};
}

std::string Keepalive::to_string() const {
  return std::to_string(idle) + "," + std::to_string(interval) + "," + std::to_string(count);
}

}  // namespace vscard
