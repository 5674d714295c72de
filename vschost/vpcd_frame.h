// vsmartcard vpcd's socket framing, as a pure codec (no I/O, no GLib).
//
// vschost --export-pcsc plays the card side of vpcd, the pcscd driver of
// vsmartcard (virtualsmartcard/src/vpcd/vpcd.c and vpcd.h, and vicc's
// VirtualSmartcard.py, which is the reference card side):
//   - every frame is a 2-byte big-endian length, then that many bytes;
//   - a 1-byte frame from vpcd is a control code: 0 power off, 1 power on,
//     2 reset, 4 get ATR (VPCD_CTRL_*); only get ATR is answered, with the ATR;
//   - any longer frame is a command APDU, answered with the response APDU;
//   - vpcd never sends an empty frame; an empty frame from the card makes vpcd
//     drop the connection (vicc_transmit treats 0 bytes as failure and ejects),
//     so "no card" is expressed by not being connected at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace vschost::vpcd {

using Bytes = std::span<const std::uint8_t>;

// The length field is 16 bits: no frame carries more than this.
inline constexpr std::size_t kMaxFrameData = 0xFFFF;
inline constexpr std::size_t kLengthSize = 2;

enum class Control : std::uint8_t { PowerOff = 0, PowerOn = 1, Reset = 2, GetAtr = 4 };

enum class FrameKind {
  Control,         // `control` holds a known code
  UnknownControl,  // a 1-byte frame with a code vpcd does not define (ignored, as vicc does)
  Apdu,            // `data` holds a command APDU (2 bytes or more; the card judges it)
  Empty,           // a 0-length frame: vpcd never sends one (ignored)
};

struct Frame {
  FrameKind kind = FrameKind::Empty;
  Control control = Control::GetAtr;  // valid for Control
  std::uint8_t raw_control = 0;       // valid for Control and UnknownControl
  Bytes data;                         // the frame's bytes (APDU), a view
};

std::string_view to_string(Control control);

// Classifies one frame's data (without the length prefix).
Frame classify(Bytes data);

// Incremental decoder: feed bytes split at any boundary. Holds at most one
// partial frame (kMaxFrameData + 2 bytes), so memory is bounded by the format.
class FrameDecoder {
 public:
  // Consumes bytes from the front of `input` until one frame is complete
  // (returns true and sets `frame`, whose `data` stays valid until the next
  // call or as long as `input`'s bytes) or `input` is empty (returns false).
  bool next(Bytes& input, Frame& frame);
  // Bytes of a frame begun but not complete (length field included).
  std::size_t buffered() const { return buffer_.size(); }
  void reset() { buffer_.clear(); last_.clear(); }

 private:
  std::vector<std::uint8_t> buffer_;  // the partial frame, length field first
  std::vector<std::uint8_t> last_;    // the last frame assembled from pieces
};

// Appends length + `data` to `out`. False, appending nothing, if `data` is empty
// (vpcd would take it for a vanished card) or longer than kMaxFrameData.
[[nodiscard]] bool encode_frame(Bytes data, std::vector<std::uint8_t>& out);

// A 1-byte control frame (what vpcd sends; for tests and a card-side peer).
void encode_control(Control control, std::vector<std::uint8_t>& out);

}  // namespace vschost::vpcd
