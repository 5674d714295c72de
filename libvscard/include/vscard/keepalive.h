// SPDX-License-Identifier: LGPL-2.1-or-later
// TCP keepalive settings, written "idle,interval,count" in seconds/probes (the
// shape of pcsc-lite-tcpip's PCSC_TCP_KEEPALIVE): after `idle` seconds of
// silence the kernel sends a probe every `interval` seconds and drops the
// connection after `count` unanswered probes (TCP_KEEPIDLE, TCP_KEEPINTVL,
// TCP_KEEPCNT; see tcp(7)). A dead peer behind a NAT or a powered-off VM host
// is then noticed within idle + interval * count seconds instead of hours.
#pragma once

#include <glib.h>

#include <optional>
#include <string>
#include <string_view>

#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

struct Keepalive {
  int idle = 0;      // TCP_KEEPIDLE, 1..32767 seconds (Linux's limit)
  int interval = 0;  // TCP_KEEPINTVL, 1..32767 seconds
  int count = 0;     // TCP_KEEPCNT, 1..127 probes

  // Parses "idle,interval,count" (three positive decimal integers, no spaces).
  // On failure returns nullopt and sets `error` (InvalidKeepalive) to a message
  // naming the bad field.
  static std::optional<Keepalive> parse(std::string_view text, GError** error);
  std::string to_string() const;

  friend bool operator==(const Keepalive&, const Keepalive&) = default;
};

VSCARD_API_END
}  // namespace vscard
