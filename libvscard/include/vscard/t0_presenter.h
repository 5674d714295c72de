// SPDX-License-Identifier: LGPL-2.1-or-later
// Presenting any card to QEMU's usb-ccid reader: a T=0 face for cards that
// speak only T=1, and responses shaped to the sizes QEMU's USB code carries.
//
// QEMU's reader announces only T=0 at TPDU level (dwProtocols = 1 in
// hw/usb/dev-smartcard-reader.c), so the guest's pcscd and libccid connect to a
// card only if its ATR offers T=0, and then send T=0 TPDUs (ISO/IEC 7816-3
// clause 12): a case-4 command loses its Le, and response data of such a command
// is fetched with GET RESPONSE after a `61xx`. And QEMU loses responses of some
// sizes (vscard/qemu_reader.h). A T0Presenter sits between the guest and one
// card and hides both: the guest sees a T=0 card whose responses all fit, the
// card sees the APDUs it expects. docs/t0-presentation.md gives the whole
// strategy with the ISO clauses it rests on.
//
// Sans-I/O (like ClientSession): the caller hands it the guest's command and the
// card's responses and does what the returned Step says. One presenter per
// reader and card; it holds at most one response (kMaxResponseSize bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <variant>
#include <vector>

#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

// When commands are translated to T=0 and the ATR rewritten to offer T=0.
enum class T0Translation {
  Auto,  // only for a card whose ATR offers no T=0 (or cannot be parsed)
  On,    // for every card
  Off,   // never: the guest gets the card's ATR and TPDUs go through unchanged
};

struct PresenterOptions {
  T0Translation t0 = T0Translation::Auto;
  // Never hand the guest a response qemu_reader_mishandles_response() flags:
  // split it with 61xx + GET RESPONSE. For every card, T=0 ones included.
  bool shape_responses = true;
};

// A T=0-only ATR for `card_atr`: the card's TS (convention) and historical
// bytes, no interface bytes and no TCK (ISO 7816-3 8.2: with Y1 = 0 no TD1
// exists, so only T=0 is offered, and 8.2.5 then forbids TCK). Empty when the
// card's ATR does not parse (parse_atr).
std::vector<std::uint8_t> t0_only_atr(std::span<const std::uint8_t> card_atr);

class T0Presenter {
 public:
  // The longest card response held: 65536 data bytes + SW1 SW2 (an extended Le).
  static constexpr std::size_t kMaxResponseSize = 65538;

  // Answer the guest with these bytes (a response APDU; the presenter made or
  // shaped it, or the card's response passed through unchanged).
  struct ToGuest {
    std::vector<std::uint8_t> response;
  };
  // Send these bytes to the card and hand its response to on_card_response().
  struct ToCard {
    std::vector<std::uint8_t> command;
  };
  using Step = std::variant<ToGuest, ToCard>;

  explicit T0Presenter(std::span<const std::uint8_t> card_atr, PresenterOptions options = {});
  ~T0Presenter();
  T0Presenter(T0Presenter&&) noexcept;
  T0Presenter& operator=(T0Presenter&&) noexcept;

  // The card's ATR and the one to announce to the guest (equal unless translating).
  std::span<const std::uint8_t> card_atr() const;
  std::span<const std::uint8_t> presented_atr() const;
  // Whether commands are translated to T=0 (the card's ATR offers no T=0, or On).
  bool translating() const;
  bool shaping() const;

  // A command from the guest. Starts a new exchange: whatever was in flight is
  // forgotten, and a held response is dropped unless this is the GET RESPONSE
  // that reads it.
  Step on_command(std::span<const std::uint8_t> command);
  // The card's response to the last ToCard. Called without a ToCard in flight,
  // the response is only shaped.
  Step on_card_response(std::span<const std::uint8_t> response);
  // The card could not answer (the caller reports the error to the guest):
  // forget the exchange in flight and any held response.
  void on_card_failed();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

VSCARD_API_END
}  // namespace vscard
