// SPDX-License-Identifier: LGPL-2.1-or-later
// PinGuard (see pin_guard.h for the rule and its trade-off).
#include "pin_guard.h"

#include "vscard/apdu.h"

namespace vscclient {
namespace {

// Commands that present a PIN and cost a try when it is wrong: VERIFY (ISO
// 7816-4 11.5.6, INS 20, or 21 with BER-TLV data) and CHANGE REFERENCE DATA
// (11.5.7, INS 24 or 25: P1 00 carries the current PIN before the new one, and
// the card counts a wrong one against the same retry counter, answering 63Cx
// or 6983 as VERIFY does). P1 01 (new data only) is guarded too: a reference
// the guard holds must not be changed behind the user's back either.
constexpr bool presents_pin(std::uint8_t ins) {
  return ins == 0x20 || ins == 0x21 || ins == 0x24 || ins == 0x25;
}

// ISO 7816-4 5.6 (Table 6): 6983 "authentication method blocked".
constexpr std::uint16_t kSwBlocked = 0x6983;

}  // namespace

std::optional<std::vector<std::uint8_t>> PinGuard::on_command(std::span<const std::uint8_t> apdu) {
  pending_reference_.reset();
  if (apdu.size() < 4 || !presents_pin(apdu[1])) return std::nullopt;
  const std::uint8_t reference = apdu[3];
  // A VERIFY without a data field only reads the retry counter (ISO 7816-4
  // 11.5.6): it costs no try, and its answer tells the guard the counter.
  // (CHANGE REFERENCE DATA always has data.)
  // Anything longer may carry a PIN, malformed or not, and is judged as one.
  const auto parsed = vscard::parse_command_apdu(apdu);
  const bool carries_data = !parsed || parsed->nc > 0;
  if (carries_data && guarding(reference)) {
    ++refused_;
    return std::vector<std::uint8_t>{0x69, 0x83};
  }
  pending_reference_ = reference;
  return std::nullopt;
}

std::optional<PinGuard::Notice> PinGuard::on_response(std::span<const std::uint8_t> response) {
  if (!pending_reference_) return std::nullopt;
  const std::uint8_t reference = *pending_reference_;
  pending_reference_.reset();
  const auto sw = vscard::status_word(response);
  if (!sw) return std::nullopt;

  auto guard = [&](std::optional<unsigned> tries) -> std::optional<Notice> {
    const bool was = guarding(reference);
    guarded_[reference] = tries;
    if (was) return std::nullopt;
    return Notice{Notice::Kind::Guarding, reference, tries};
  };
  auto release = [&]() -> std::optional<Notice> {
    if (guarded_.erase(reference) == 0) return std::nullopt;
    return Notice{Notice::Kind::Released, reference, std::nullopt};
  };

  if (*sw == kSwBlocked) return guard(std::nullopt);
  if ((*sw & 0xFFF0) == 0x63C0) {
    const unsigned tries = *sw & 0x0F;
    if (tries <= threshold_) return guard(tries);
    return release();
  }
  if (*sw == 0x9000) return release();
  return std::nullopt;
}

std::vector<std::uint8_t> PinGuard::allow() {
  std::vector<std::uint8_t> released;
  for (const auto& [reference, tries] : guarded_) released.push_back(reference);
  guarded_.clear();
  return released;
}

}  // namespace vscclient
