// SPDX-License-Identifier: LGPL-2.1-or-later
// ViccCard: the reader side of one vpcd connection to a card program (vicc,
// jcardsim, vpicc-rs...), as a sans-I/O state machine (no sockets, no GLib).
// ViccSource (vicc_source.h) runs one per connected card and does the I/O.
//
// What vpcd does with a card program, and so what we do (vsmartcard's
// virtualsmartcard/src/vpcd/vpcd.c and ifd-vpcd.c; frames in vscard/vpcd_frame.h):
//   - a connected program is an inserted card: IFDHPowerICC sends power on
//     (vicc_poweron), then get ATR (vicc_getatr) and reads the ATR back;
//   - power on/off and reset get no answer (sendToVICC alone); get ATR and every
//     command APDU get exactly one frame back (vicc_transmit holds io_lock from
//     the command until the answer, so there is one outstanding request at most);
//   - an empty answer is a failed card (vicc_transmit returns 0, vpcd ejects it).
// Unlike vpcd we do not poll with get ATR: the socket tells when the card goes.
//
// Any breach -- an empty frame, a frame nobody asked for (e.g. two answers to
// one command), a length over the limit, an ATR longer than ISO 7816-3 allows --
// fails the card with one line saying what; the glue then drops the connection
// (card removed) and answers an outstanding command with an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vscard/vpcd_frame.h"

namespace vscclient {

class ViccCard {
 public:
  enum class State {
    Idle,        // not started
    PoweringUp,  // power on and get ATR sent, waiting for the ATR
    Resetting,   // a forwarded power on / reset and get ATR sent, waiting for the ATR
    Ready,       // card present, nothing outstanding
    Busy,        // a command sent, waiting for its response
    Failed,      // a protocol breach: the connection must go (failure() says why)
  };

  struct Event {
    enum class Kind {
      Inserted,  // `bytes` is the ATR
      Response,  // `bytes` is the response to the outstanding command
      Reset,     // `bytes` is the ATR after a power() on or reset
      Failed,    // `reason` says what the card did wrong
    };
    Kind kind = Kind::Failed;
    std::vector<std::uint8_t> bytes;
    std::string reason;
  };

  // `max_response`: the longest response passed on (the host's limit); a card
  // announcing more fails. At most vscard::vpcd::kMaxFrameData.
  explicit ViccCard(std::size_t max_response = vscard::vpcd::kMaxFrameData);

  // The connection is up: queues power on and get ATR (-> PoweringUp).
  void start();

  // Bytes from the card, split anywhere. Returns what they completed, in order;
  // after a Failed event nothing more is decoded.
  std::vector<Event> receive(vscard::Bytes data);

  // Queues a command APDU (Ready -> Busy). False, with `error` set and the state
  // unchanged, when not Ready or when the APDU cannot be framed (empty, 1 byte,
  // over 65535 bytes); the card stays usable then.
  bool send_command(vscard::Bytes apdu, std::string* error);

  // A power event from the host's application (CardControl extension), passed
  // on as vpcd does it (IFDHPowerICC: vicc_poweroff / vicc_poweron / vicc_reset,
  // then vicc_getatr after the last two). PowerOff stays Ready and gets no
  // answer; PowerOn and Reset go to Resetting until the ATR (a Reset event).
  // False, with `error` set and nothing queued, when not Ready.
  bool power(vscard::vpcd::Control control, std::string* error);

  // The card did not answer in time (the glue's timer): -> Failed. Returns the
  // reason line ("no ATR within ...", "no response within ...").
  std::string timed_out(const std::string& limit_text);

  // The peer closed the connection: one line for the log, noting a frame left
  // unfinished ("closed the connection in the middle of a frame (3 of 300 bytes)").
  std::string closed_reason() const;

  State state() const { return state_; }
  // Waiting for the card (PoweringUp, Resetting or Busy): the glue runs a timer meanwhile.
  bool awaiting_answer() const {
    return state_ == State::PoweringUp || state_ == State::Resetting || state_ == State::Busy;
  }
  const std::string& failure() const { return failure_; }
  const std::vector<std::uint8_t>& atr() const { return atr_; }

  // What to write to the card.
  vscard::Bytes pending_output() const { return output_; }
  void consume_output(std::size_t n);

 private:
  Event fail(std::string reason);

  State state_ = State::Idle;
  vscard::vpcd::FrameDecoder decoder_;
  std::vector<std::uint8_t> output_;
  std::vector<std::uint8_t> atr_;
  std::string failure_;
};

std::string_view to_string(ViccCard::State state);

}  // namespace vscclient
