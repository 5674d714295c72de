// SPDX-License-Identifier: LGPL-2.1-or-later
// What QEMU's emulated CCID reader (`usb-ccid`, hw/usb/dev-smartcard-reader.c)
// cannot carry back to the guest: the response sizes a VSCard client must never
// send and a VSCard host in QEMU mode warns about. One place, shared by
// vscclient's response shaping and vschost's QEMU-mode warnings.
//
// Facts from QEMU 7.2 (Debian 12's qemu-system-x86; measured behaviour in
// docs/qemu.md), hw/usb/dev-smartcard-reader.c:
//  - ccid_card_send_apdu_to_guest() hands the response APDU to
//    ccid_write_data_block_answer(), which answers an error with no data when the
//    response is longer than BULK_IN_BUF_SIZE (384) minus the 10-byte
//    RDR_to_PC_DataBlock header: responses over 374 bytes never reach the guest.
//  - ccid_bulk_in_copy_to_guest() releases a bulk-in message only when the copy
//    that reaches its end is not exactly the endpoint's max packet size
//    (`len != max_packet_size`, 64 for this full-speed reader); a message whose
//    final copy is a full packet waits for a zero-length packet. UHCI's guest
//    driver reads 64-byte packets and asks for that empty packet; under xHCI the
//    guest's whole transfer completes with the 64 bytes, so the message is never
//    released and every later exchange gets the previous answer (measured).
//    Under xHCI one copy covers the whole message, so only a message of exactly
//    64 bytes (10-byte header + 54-byte response) ends on a full packet: that is
//    the rule below. It depends on the last copy being full-size; a controller
//    that splits transfers differently could meet it at 128, 192, 256, 320 or
//    384 bytes too (116, 180, 244, 308 or 372 data bytes + SW). Extend it here if
//    a measurement shows it.
//  - Measured with QEMU 7.2 and a Debian 12 guest, unshaped responses
//    (tests/integration/qemu/controller_check.py --sizes; table in docs/qemu.md):
//    behind qemu-xhci and UHCI, responses of 118 and 374 bytes (messages of 128
//    and 384 bytes) arrive and later exchanges stay in step; 54 bytes loses step
//    behind xHCI only; 375 and 600 bytes fail on both (the guest's transmit
//    fails, once after 233 s). So the rule needs no other multiple of 64.
#pragma once

#include <cstddef>

#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

// The CCID RDR_to_PC_DataBlock header QEMU puts before every response
// (CCID 1.1 section 6.2.1).
inline constexpr std::size_t kCcidHeaderSize = 10;

// BULK_IN_BUF_SIZE (384) minus the CCID header: the longest response APDU (data
// + SW1 SW2) QEMU's reader delivers (ccid_write_data_block_answer()).
inline constexpr std::size_t kQemuMaxResponseSize = 374;

// The bulk-in endpoint's max packet size (CCID_MAX_PACKET_SIZE, a full-speed
// device).
inline constexpr std::size_t kQemuBulkPacketSize = 64;

// True when QEMU's usb-ccid would lose or mishandle a response APDU of this many
// bytes (data + SW1 SW2): longer than kQemuMaxResponseSize, or a CCID message of
// exactly one full bulk packet (54 bytes), which xHCI never releases.
constexpr bool qemu_reader_mishandles_response(std::size_t response_size) {
  return response_size > kQemuMaxResponseSize ||
         response_size + kCcidHeaderSize == kQemuBulkPacketSize;
}

VSCARD_API_END
}  // namespace vscard
