// SPDX-License-Identifier: LGPL-2.1-or-later
#include "qemu_limits.h"

#include "vscard/apdu.h"
#include "vscard/atr.h"
#include "vscard/qemu_reader.h"

namespace vschost {

std::optional<QemuLimitWarning> qemu_response_warning(std::span<const std::uint8_t> response) {
  const std::size_t n = response.size();
  if (!vscard::qemu_reader_mishandles_response(n)) return std::nullopt;
  const std::string size = std::to_string(n);
  if (n > vscard::kQemuMaxResponseSize) {
    // ccid_write_data_block_answer(): longer than BULK_IN_BUF_SIZE minus the header.
    return QemuLimitWarning{
        "response_too_long", n,
        "response of " + size + " bytes: QEMU's usb-ccid delivers at most " +
            std::to_string(vscard::kQemuMaxResponseSize) +
            " (BULK_IN_BUF_SIZE 384 minus the 10-byte CCID header); the guest gets an error "
            "instead. Send it in chunks with 61XX and GET RESPONSE"};
  }
  // ccid_bulk_in_copy_to_guest(): a message ending on a full packet waits for a
  // zero-length packet that a guest behind qemu-xhci never asks for.
  return QemuLimitWarning{
      "response_full_packet", n,
      "response of " + size + " bytes: with the 10-byte CCID header it ends on a full 64-byte "
          "USB packet, which QEMU's usb-ccid does not release to a guest behind qemu-xhci; "
          "every later exchange gets the previous answer. Split it with 61XX and GET RESPONSE"};
}

std::optional<QemuLimitWarning> qemu_atr_warning(std::span<const std::uint8_t> atr) {
  auto info = vscard::parse_atr(atr);
  if (!info || info->offers(0)) return std::nullopt;
  return QemuLimitWarning{
      "atr_without_t0", atr.size(),
      "ATR " + vscard::to_hex(atr) + " offers " + vscard::protocols_to_string(*info) +
          " but not T=0: QEMU's usb-ccid announces only T=0, so the guest lists the card but "
          "cannot connect to it. Present an ATR that offers T=0"};
}

void QemuLimitsWatch::card_inserted(ReaderRef reader, std::span<const std::uint8_t> atr,
                                    bool accepted) {
  if (!accepted) return;  // QEMU refused it: no card reaches the guest at all
  if (auto w = qemu_atr_warning(atr)) warn_(reader, *w);
}

void QemuLimitsWatch::apdu_exchanged(ReaderRef reader, std::span<const std::uint8_t>,
                                     std::span<const std::uint8_t> response,
                                     std::optional<std::uint32_t> error,
                                     std::chrono::microseconds) {
  if (error) return;  // an Error message, not a response
  if (auto w = qemu_response_warning(response)) warn_(reader, *w);
}

}  // namespace vschost
