// SPDX-License-Identifier: LGPL-2.1-or-later
// HostObserver: what vschost's parts (event log, script runs, interactive
// console, PC/SC export) learn about clients, readers and cards. HostServer
// calls every registered observer, on the main context, after the session has
// answered the client. Views passed in are valid during the call only.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "vscard/host_session.h"

namespace vschost {

using ClientId = std::uint64_t;

// A reader of one client: PC/SC export and `send` address cards this way.
struct ReaderRef {
  ClientId client = 0;
  vscard::ReaderId reader = 0;
  friend bool operator==(const ReaderRef&, const ReaderRef&) = default;
};

class HostObserver {
 public:
  virtual ~HostObserver() = default;
  virtual void client_connected(ClientId, std::string_view /*peer*/, bool /*tls*/) {}
  virtual void client_init(ClientId, const vscard::host_event::ClientInit&) {}
  virtual void reader_added(ReaderRef, std::string_view /*name*/) {}
  virtual void reader_refused(ClientId, std::string_view /*name*/, std::uint32_t /*code*/) {}
  virtual void reader_removed(ReaderRef) {}
  virtual void card_inserted(ReaderRef, std::span<const std::uint8_t> /*atr*/,
                             bool /*accepted*/) {}
  virtual void card_removed(ReaderRef) {}
  // A command the host sent and the client's answer (response, or Error code).
  virtual void apdu_exchanged(ReaderRef, std::span<const std::uint8_t> /*command*/,
                              std::span<const std::uint8_t> /*response*/,
                              std::optional<std::uint32_t> /*error_code*/,
                              std::chrono::microseconds /*duration*/) {}
  virtual void protocol_violation(ClientId, std::string_view /*what*/) {}
  virtual void client_disconnected(ClientId, std::string_view /*reason*/) {}
};

}  // namespace vschost
