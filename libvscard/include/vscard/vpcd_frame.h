// SPDX-License-Identifier: LGPL-2.1-or-later
// vsmartcard's vpcd socket framing, as a pure codec (no I/O, no GLib).
//
// vpcd is the pcscd driver of vsmartcard; a card program (vicc, jcardsim,
// vpicc-rs...) talks to it over TCP. The rules (virtualsmartcard/src/vpcd/vpcd.c
// and vpcd.h; vicc's VirtualSmartcard.py is the reference card side):
//   - every frame is a 2-byte big-endian length, then that many bytes;
//   - a 1-byte frame from the reader side is a control code: 0 power off,
//     1 power on, 2 reset, 4 get ATR (VPCD_CTRL_*); only get ATR is answered,
//     with the ATR (vicc_poweron/poweroff/reset send and read nothing back);
//   - any longer frame from the reader side is a command APDU, answered with
//     exactly one frame holding the response APDU;
//   - the reader side never sends an empty frame; an empty frame from the card
//     makes vpcd drop the connection (vicc_transmit treats 0 bytes as failure
//     and ejects), so "no card" is expressed by not being connected at all.
//
// Both sides use this codec: vschost --export-pcsc plays the card side,
// vscclient --vicc the reader side.
//
//   vscard::vpcd::FrameDecoder decoder(max_response);
//   vscard::Bytes input = bytes_from_socket;
//   vscard::vpcd::Frame frame;
//   for (;;) {
//     auto status = decoder.next(input, frame);        // advances `input`
//     if (status == vscard::vpcd::FrameStatus::NeedMoreInput) break;
//     if (status == vscard::vpcd::FrameStatus::Fatal) { /* decoder.error() */ break; }
//     ... frame.kind, frame.data ...
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "vscard/message.h"
#include "vscard/export.h"

namespace vscard::vpcd {
VSCARD_API_BEGIN

// The length field is 16 bits: no frame carries more than this.
inline constexpr std::size_t kMaxFrameData = 0xFFFF;
inline constexpr std::size_t kLengthSize = 2;

enum class Control : std::uint8_t { PowerOff = 0, PowerOn = 1, Reset = 2, GetAtr = 4 };

enum class FrameKind {
  Control,         // `control` holds a known code
  UnknownControl,  // a 1-byte frame with a code vpcd does not define (vicc ignores it)
  Apdu,            // `data` holds 2 bytes or more: a command (to a card) or a response
  Empty,           // a 0-length frame
};

struct Frame {
  FrameKind kind = FrameKind::Empty;
  Control control = Control::GetAtr;  // valid for Control
  std::uint8_t raw_control = 0;       // valid for Control and UnknownControl
  Bytes data;                         // the frame's bytes, a view
};

std::string_view to_string(Control control);

// Classifies one frame's data (without the length prefix).
Frame classify(Bytes data);

enum class FrameStatus {
  NeedMoreInput,  // all input consumed, no complete frame yet
  Frame,          // `frame` holds the next frame
  Fatal,          // the stream cannot be decoded further (every later call repeats it)
};

enum class FrameError {
  None,
  TooLarge,  // fatal: a length field over the decoder's max_frame_data
};

// One line for logs, e.g. "frame length over the limit".
std::string_view to_string(FrameError error);

// Incremental decoder: feed bytes split at any boundary. Holds at most one
// partial frame (max_frame_data + 2 bytes); a length field over the limit is
// refused from the length alone, before any of its data is buffered.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame_data = kMaxFrameData);

  // Consumes bytes from the front of `input` until one frame is complete (its
  // `data` stays valid until the next call or reset(), and as long as `input`'s
  // bytes) or `input` is empty. After Fatal nothing more is consumed.
  FrameStatus next(Bytes& input, Frame& frame);

  FrameError error() const { return error_; }
  // The length field that caused TooLarge.
  std::size_t refused_length() const { return refused_length_; }
  std::size_t max_frame_data() const { return max_frame_data_; }
  // Bytes of a frame begun but not complete (length field included).
  std::size_t buffered() const { return buffer_.size(); }
  // The data length the partial frame announced; 0 if its length field is incomplete.
  std::size_t partial_length() const;
  // Forgets any partial frame and a fatal error.
  void reset();

 private:
  std::size_t max_frame_data_;
  std::vector<std::uint8_t> buffer_;  // the partial frame, length field first
  std::vector<std::uint8_t> last_;    // the last frame assembled from pieces
  FrameError error_ = FrameError::None;
  std::size_t refused_length_ = 0;
};

enum class EncodeError {
  None,
  Empty,              // an empty frame means "card failed" to vpcd
  TooLong,            // more than kMaxFrameData bytes
  ReadsAsControl,     // a 1-byte command APDU would be taken for a control code
};

std::string_view to_string(EncodeError error);

// Appends length + `data` to `out` (a response or ATR from the card side).
// Appends nothing unless the result is EncodeError::None.
[[nodiscard]] EncodeError encode_frame(Bytes data, std::vector<std::uint8_t>& out);

// Appends a command APDU frame (the reader side): like encode_frame, and also
// refuses a 1-byte command, which the card would read as a control code.
[[nodiscard]] EncodeError encode_command(Bytes apdu, std::vector<std::uint8_t>& out);

// Appends a 1-byte control frame (the reader side).
void encode_control(Control control, std::vector<std::uint8_t>& out);

VSCARD_API_END
}  // namespace vscard::vpcd
