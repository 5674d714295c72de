// SPDX-License-Identifier: LGPL-2.1-or-later
// EventLog: --report json's event stream, one JSON object per line on stdout
// (docs/vschost.md lists the events and their fields).
#pragma once

#include <cstdio>

#include "host_observer.h"
#include "qemu_limits.h"

namespace vschost {

class EventLog : public HostObserver {
 public:
  // `unredacted`: PIN-bearing commands are logged in full (--log-pins); by default their
  // data field is hidden (vscard::format_command_for_log).
  EventLog(std::FILE* out, bool unredacted) : out_(out), unredacted_(unredacted) {}

  void listening(std::string_view address);
  void client_connected(ClientId, std::string_view peer, bool tls) override;
  void client_init(ClientId, const vscard::host_event::ClientInit&) override;
  void reader_added(ReaderRef, std::string_view name) override;
  void reader_refused(ClientId, std::string_view name, std::uint32_t code) override;
  void reader_removed(ReaderRef) override;
  void card_inserted(ReaderRef, std::span<const std::uint8_t> atr, bool accepted) override;
  void card_removed(ReaderRef) override;
  void apdu_exchanged(ReaderRef, std::span<const std::uint8_t> command,
                      std::span<const std::uint8_t> response, std::optional<std::uint32_t> error,
                      std::chrono::microseconds duration) override;
  void protocol_violation(ClientId, std::string_view what) override;
  void client_disconnected(ClientId, std::string_view reason) override;
  // --mode qemu: what QEMU's usb-ccid would mishandle (QemuLimitsWatch).
  void qemu_limit(ReaderRef, const QemuLimitWarning&);

 private:
  void emit(const std::string& line);
  std::FILE* out_;
  bool unredacted_;
};

}  // namespace vschost
