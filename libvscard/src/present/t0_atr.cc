// SPDX-License-Identifier: LGPL-2.1-or-later
// The ATR a T0Presenter shows the guest (ISO/IEC 7816-3:2006 clause 8).
#include "vscard/atr.h"
#include "vscard/t0_presenter.h"

namespace vscard {

// Why nothing but TS, T0 and the historical bytes:
//  - No TD1 means T=0 is the only protocol offered (8.2.3), so the guest's
//    pcscd picks T=0, the one protocol QEMU's reader announces.
//  - TA1 (Fi/Di) would make a guest's libccid try a PPS / SetParameters for a
//    speed the emulated reader ignores; TC1 (extra guard time), TB3 (T=1 block
//    waiting) and TA2 (specific mode, which can pin the card to T=1) describe
//    the card's real link to the host's reader, not the emulated one the guest
//    talks to. With all of them gone the guest uses the defaults of 8.3.
//  - TCK is absent when only T=0 is indicated (8.2.5), and QEMU's check_atr()
//    (hw/usb/ccid-card-passthru.c) ignores it anyway.
//  - The historical bytes (8.2.4) stay: middleware recognises cards by them.
std::vector<std::uint8_t> t0_only_atr(std::span<const std::uint8_t> card_atr) {
  auto info = parse_atr(card_atr);
  if (!info) return {};
  std::vector<std::uint8_t> atr;
  atr.reserve(2 + info->historical.size());
  atr.push_back(card_atr[0]);  // TS: the card's convention
  // T0: Y1 = 0 (no interface bytes), K = number of historical bytes (<= 15).
  atr.push_back(static_cast<std::uint8_t>(info->historical.size()));
  atr.insert(atr.end(), info->historical.begin(), info->historical.end());
  return atr;
}

}  // namespace vscard
