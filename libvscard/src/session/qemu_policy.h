// SPDX-License-Identifier: LGPL-2.1-or-later
// What QEMU 7.2's ccid-card-passthru does on the wire: the facts HostPolicy::Qemu
// reproduces (host_session_qemu.cc).
//
// Read in hw/usb/ccid-card-passthru.c (v7.2.0) and measured against Debian 12's
// qemu-system-x86_64 7.2.22 with
//   -S -nodefaults -display none -device piix3-usb-uhci -device usb-ccid
//   -chardev socket,id=c,host=127.0.0.1,port=P,server=on,wait=off
//   -device ccid-card-passthru,chardev=c
// by a Python client sending each case and reading what came back (replies are
// written as [type reader_id length: payload], integers big-endian):
//
// - On connect QEMU sends nothing (its Init at realize time goes to no client).
// - Init, whatever its content, is answered with [1 0xFFFFFFFF 12: "VSCD" 2 0]:
//   good, wrong magic ("wrong magic" on stderr), version 3, two capability
//   words, a payload of 0, 4, 8 or 13 bytes, and every repeated Init.
//   A message before any Init is handled as usual (no Init needed).
// - ReaderAdd (first, second, with reader_id 7, with or without a name, before
//   Init, after ReaderRemove): always [2 0 4: 0], Error(success) with id 0.
// - ATR: [2 rid 4: 0] if accepted, [2 rid 4: 1] if not, rid echoed from the
//   request (ATR for rid 3 -> [2 3 4: 0]). Refused: TS not 3B/3F, fewer than 2
//   bytes, empty, more than 40 bytes, fewer bytes than T0/TDi announce.
//   Accepted: 40 bytes "3B 00" + 38 zeros (too long is let through), an ATR
//   before any ReaderAdd or Init.
// - CardRemove and ReaderRemove: [2 rid 4: 0] for any rid, card or reader or not.
// - APDU and Error (also an Error with an empty payload) from the client: no reply.
// - Flush, FlushComplete, type 10, type 0, type 0x63 with payload:
//   [2 rid 4: 1] ("unexpected message of type X" on stdout).
// - Messages split byte by byte, or several in one write: the same replies.
// - How input reaches the device (QEMU 7.2 source): the socket chardev reads
//   at most CHR_READ_BUF_LEN = 4096 bytes at a time (include/chardev/char.h;
//   chardev/char-socket.c tcp_chr_read uses a buffer of that size) and no more
//   than tcp_chr_read_poll's max_size, which is the device's can_read:
//   ccid_card_vscard_can_read returns VSCARD_IN_SIZE (65536) minus
//   vscard_in_pos, the bytes held. ccid_card_vscard_read appends the read,
//   handles every whole message in it, and resets vscard_in_pos to 0 only if
//   the read ended exactly on a message boundary (vscard_in_hdr == vscard_in_pos).
//   So the buffer rule applies per read of at most 4096 bytes, whatever size
//   the client's writes have: many small messages in one large write, or a
//   65536-byte message followed by more in the same write, are all handled.
// - With 65536 bytes held and no boundary reached (a message over 65536 bytes
//   with its header, or 64 KiB of reads none of which ended on a boundary),
//   can_read is 0: tcp_chr_read_poll reports no room and QEMU never reads that
//   connection again. Its "no room for data ... dropping connection" branch in
//   ccid_card_vscard_read (ccid_card_vscard_drop_connection) is unreachable
//   because no read exceeds the room. Measured: a message of exactly 65536
//   bytes is handled, one of 65537 never answered, nor anything after it; the
//   connection stays open, deaf, and the client's close goes unnoticed, so no
//   later connection is served until QEMU restarts.
// - Measured with reads that end mid-message: 52-byte ATR messages written as
//   26 + 52 + 52 ... bytes (each write read on its own) were answered 1260
//   times (65536 / 52), then never again. With request/response traffic
//   (each message answered before the next is sent) reads end at message
//   boundaries and this never happens.
// - A partial message left when the client disconnects stays in the buffer: the
//   next connection's bytes are appended to it (7 bytes of an Init, reconnect,
//   new Init: nothing answered until 256 - 19 more bytes completed the misframed
//   message). The session is per connection, so this one is not reproduced.
#pragma once

#include <cstddef>
#include <string_view>

namespace vscard::qemu {

// VSCARD_IN_SIZE in ccid-card-passthru.c.
inline constexpr std::size_t kInputBufferSize = 64 * 1024;

// CHR_READ_BUF_LEN in include/chardev/char.h: the most one chardev read hands over.
inline constexpr std::size_t kChardevReadSize = 4096;

// ccid_card_vscard_can_read: what the next read may take with `held` bytes buffered.
constexpr std::size_t read_room(std::size_t held) {
  return held >= kInputBufferSize ? 0 : kInputBufferSize - held;
}

// The Closed reason when QEMU would stop reading (see above).
inline constexpr std::string_view kStallReason =
    "client input exceeds QEMU's 64 KiB passthru buffer (a message over 65536 bytes, "
    "or 64 KiB received without ever ending on a message boundary): QEMU 7.2 stops "
    "reading this connection for good";

}  // namespace vscard::qemu
