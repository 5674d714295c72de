// SPDX-License-Identifier: LGPL-2.1-or-later
// What QEMU's usb-ccid reader would mishandle of what a client sends, so that
// vschost in --mode qemu can tell client authors before a real guest fails
// (issue 13). Pure: the checks are functions, and QemuLimitsWatch turns the
// events every HostObserver hears into warnings for one callback.
//
// The size rule is vscard::qemu_reader_mishandles_response (vscard/qemu_reader.h,
// the one place it lives, shared with vscclient's response shaping). The ATR
// rule: QEMU's reader announces only T=0 in its CCID class descriptor
// (dwProtocols = 1, hw/usb/dev-smartcard-reader.c), so a guest lists a card
// whose ATR offers no T=0 but cannot connect to it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "host_observer.h"

namespace vschost {

struct QemuLimitWarning {
  // "response_full_packet", "response_too_long" or "atr_without_t0".
  std::string kind;
  std::size_t size = 0;  // bytes of the response or ATR
  std::string message;   // one line; holds no peer bytes except as hex
};

// A warning when QEMU's usb-ccid would lose or mishandle a response APDU of
// this size (data + SW1 SW2), else nullopt.
std::optional<QemuLimitWarning> qemu_response_warning(std::span<const std::uint8_t> response);

// A warning when the ATR parses (ISO 7816-3) and offers no T=0, else nullopt.
// An ATR that does not parse gets none here: the card_inserted event already
// says why it is invalid.
std::optional<QemuLimitWarning> qemu_atr_warning(std::span<const std::uint8_t> atr);

// Checks every accepted ATR and every response a client sends; calls `warn`
// for each one QEMU would mishandle (each occurrence: a script can count them).
class QemuLimitsWatch : public HostObserver {
 public:
  using Warn = std::function<void(ReaderRef, const QemuLimitWarning&)>;
  explicit QemuLimitsWatch(Warn warn) : warn_(std::move(warn)) {}

  void card_inserted(ReaderRef, std::span<const std::uint8_t> atr, bool accepted) override;
  void apdu_exchanged(ReaderRef, std::span<const std::uint8_t> command,
                      std::span<const std::uint8_t> response, std::optional<std::uint32_t> error,
                      std::chrono::microseconds duration) override;

 private:
  Warn warn_;
};

}  // namespace vschost
