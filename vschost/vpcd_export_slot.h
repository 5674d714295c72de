// SPDX-License-Identifier: LGPL-2.1-or-later
// ExportSlot: the card side of one vpcd slot, as a sans-I/O state machine (no
// sockets, no GLib). vschost --export-pcsc runs one per vpcd slot; the I/O glue
// (vpcd_export.cc) feeds it what happens and carries out what it asks for.
//
// The rules come from vsmartcard's vpcd (virtualsmartcard/src/vpcd/vpcd.c and
// ifd-vpcd/ifd-vpcd.c) and vicc (vpicc/virtualsmartcard/VirtualSmartcard.py):
//   - vpcd is the TCP server; a connected card program *is* an inserted card and
//     a closed connection a removed one (IFDHICCPresence -> vicc_present). So we
//     are connected exactly while the exported VSCard reader holds a card.
//   - vpcd polls presence about once a second with get ATR (control 4) and needs
//     the ATR back; we answer from the ATR the client sent, without asking it.
//   - power off (0), power on (1) and reset (2) are sent with sendToVICC alone:
//     vpcd reads no answer, so none is sent (vicc sends none either). They are
//     handed up (take_power_events) and VpcdExport forwards them to a client
//     that negotiated the CardControl extension; plain VSCard has no reset, and
//     QEMU's passthru answers power-on from the cached ATR too.
//   - a command APDU is answered with exactly one response frame. An empty
//     frame makes vpcd eject the card (vicc_transmit treats 0 bytes as failure),
//     so when the client cannot give a response (VSCard Error, reader or card
//     gone) we close the connection instead: vpcd and the application see the
//     card removed rather than a status word we made up.
//   - vpcd serialises its requests per slot (io_lock): it never sends a second
//     frame before the answer to an APDU; one that does is a protocol fault.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vscard/vpcd_frame.h"

namespace vschost::vpcd {

// The codec lives in libvscard (vscard/vpcd_frame.h); these are its names here.
using vscard::Bytes;
using vscard::vpcd::Control;
using vscard::vpcd::EncodeError;
using vscard::vpcd::Frame;
using vscard::vpcd::FrameDecoder;
using vscard::vpcd::FrameKind;
using vscard::vpcd::FrameStatus;
using vscard::vpcd::kMaxFrameData;
using vscard::vpcd::encode_control;
using vscard::vpcd::encode_frame;
using vscard::vpcd::to_string;

class ExportSlot {
 public:
  struct Stats {
    std::uint64_t atr_polls = 0;
    std::uint64_t power_events = 0;   // power on/off and reset frames
    std::uint64_t apdus = 0;          // commands handed to the client
    std::uint64_t responses = 0;      // responses sent to vpcd
    std::uint64_t connections = 0;    // times connected to vpcd
  };

  // The card of the exported reader: present with `atr`, or gone. A new ATR
  // while present is a new card (connection closed and made again).
  void insert_card(Bytes atr);
  void remove_card();
  bool card_present() const { return atr_.has_value(); }
  const std::vector<std::uint8_t>& atr() const;

  // The connection to vpcd. connected() resets the frame state; disconnected()
  // forgets queued output and any outstanding command.
  void connected();
  void disconnected();

  // Should a connection to vpcd exist? (card present). The glue connects when
  // this is true and it is not connected, and closes when close_requested().
  bool wants_connection() const { return card_present() && !close_requested(); }

  // Bytes read from vpcd. Get ATR is answered at once (pending_output); an APDU
  // becomes take_command(); a protocol fault sets close_requested().
  void receive(Bytes data);

  // The command APDU vpcd sent and the client must get, once.
  std::optional<std::vector<std::uint8_t>> take_command();
  bool command_outstanding() const { return outstanding_; }

  // The client's answer to the command: a response, or nullopt when there is
  // none (VSCard Error `error`, or the reader, card or client went away).
  void answer(std::optional<std::vector<std::uint8_t>> response,
              std::optional<std::uint32_t> error = std::nullopt);

  // What to write to vpcd.
  Bytes pending_output() const { return output_; }
  void consume_output(std::size_t n);

  // The connection must be closed after writing pending output; the reason is
  // one line for the log. Cleared by disconnected().
  bool close_requested() const { return close_reason_.has_value(); }
  const std::string& close_reason() const;

  // Power on/off and reset frames seen since the last call, in order (for
  // debug logs; at most the last 16 are kept), and counters.
  std::vector<Control> take_power_events();
  const Stats& stats() const { return stats_; }

 private:
  void request_close(std::string reason);
  void handle(const Frame& frame);

  std::optional<std::vector<std::uint8_t>> atr_;
  bool connected_ = false;
  FrameDecoder decoder_;
  std::vector<std::uint8_t> output_;
  std::optional<std::vector<std::uint8_t>> command_;  // not yet taken
  bool outstanding_ = false;                          // taken or not, not answered
  std::optional<std::string> close_reason_;
  std::vector<Control> power_events_;
  Stats stats_;
};

}  // namespace vschost::vpcd
