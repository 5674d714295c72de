// SPDX-License-Identifier: LGPL-2.1-or-later
// T0Presenter: the T=0 face of a card and QEMU-safe responses (see
// vscard/t0_presenter.h and docs/t0-presentation.md for the strategy and the
// ISO/IEC 7816-3:2006 and 7816-4:2013 clauses it rests on).
#include "vscard/t0_presenter.h"

#include <algorithm>
#include <optional>

#include "present/held_response.h"
#include "vscard/atr.h"
#include "vscard/qemu_reader.h"

namespace vscard {
namespace {

constexpr std::uint8_t kInsGetResponse = 0xC0;
constexpr std::size_t kHeaderSize = 4;      // CLA INS P1 P2
constexpr std::size_t kTpduHeaderSize = 5;  // ... P3 (ISO 7816-3 10.3.2)
// The most data collected from a card's own 61xx chain (an extended Ne), and
// how many GET RESPONSE commands that may take (a card answering 0 bytes and
// 61xx forever must not keep the exchange going).
constexpr std::size_t kMaxCollected = T0Presenter::kMaxResponseSize - 2;
constexpr unsigned kMaxGetResponses = 300;

// Status words the presenter answers itself (ISO 7816-4 5.6, Table 6).
const std::vector<std::uint8_t> kWrongLength = {0x67, 0x00};
const std::vector<std::uint8_t> kNotAllowed = {0x69, 0x85};  // conditions of use not satisfied
const std::vector<std::uint8_t> kNoDiagnosis = {0x6F, 0x00};

// Interindustry instructions whose response data field is absent by definition,
// so a `CLA INS P1 P2 Lc data` TPDU using them is case 3 and goes to the card
// without Le. ISO 7816-4:2013 clause 11 (and 7816-9 for file management):
// VERIFY 20/21 (11.5.6), MANAGE SECURITY ENVIRONMENT 22 (11.5.11), CHANGE
// REFERENCE DATA 24/25 (11.5.7), DISABLE / ENABLE VERIFICATION REQUIREMENT 26/28
// (11.5.9, 11.5.8), RESET RETRY COUNTER 2C/2D (11.5.10), ERASE RECORD 0C
// (11.3.7), ERASE BINARY 0E/0F (11.2.7), WRITE BINARY D0/D1 (11.2.4), WRITE
// RECORD D2 (11.3.4), UPDATE BINARY D6/D7 (11.2.5), PUT DATA DA/DB (11.4.6),
// UPDATE RECORD DC/DD (11.3.5), APPEND RECORD E2 (11.3.6), and 7816-9's
// DEACTIVATE FILE 04, ACTIVATE FILE 44, CREATE FILE E0, DELETE FILE E4.
// Proprietary classes (CLA bit 8 set) reuse these codes for other commands
// (GlobalPlatform's INSTALL E6 returns data), so the list holds for CLA < 80.
bool never_returns_data(std::uint8_t cla, std::uint8_t ins) {
  if (cla & 0x80) return false;
  switch (ins) {
    case 0x04: case 0x0C: case 0x0E: case 0x0F:
    case 0x20: case 0x21: case 0x22: case 0x24: case 0x25: case 0x26: case 0x28:
    case 0x2C: case 0x2D: case 0x44:
    case 0xD0: case 0xD1: case 0xD2: case 0xD6: case 0xD7: case 0xDA: case 0xDB:
    case 0xDC: case 0xDD: case 0xE0: case 0xE2: case 0xE4:
      return true;
    default:
      return false;
  }
}

// The class byte of a GET RESPONSE that collects a card's 61xx: interindustry
// with the command's logical channel (ISO 7816-4 5.4.1), without secure
// messaging or chaining bits, which belong to the command, not to its response.
std::uint8_t get_response_cla(std::uint8_t cla) {
  if ((cla & 0xC0) == 0x40) return static_cast<std::uint8_t>(cla & 0x4F);  // channels 4..19
  return static_cast<std::uint8_t>(cla & 0x03);  // channels 0..3; proprietary classes too
}

bool is_get_response(std::span<const std::uint8_t> command) {
  return command.size() == kTpduHeaderSize && command[1] == kInsGetResponse &&
         command[2] == 0 && command[3] == 0;
}

std::uint16_t sw_of(std::span<const std::uint8_t> response) {
  return static_cast<std::uint16_t>(response[response.size() - 2] << 8 |
                                    response[response.size() - 1]);
}

// The exchange with the card for one guest command. (At namespace scope: a
// nested struct with member initializers is not yet constructible inside the
// enclosing class for clang, which std::optional needs.)
struct Exchange {
  std::vector<std::uint8_t> sent;     // the last command sent to the card
  std::vector<std::uint8_t> case3;    // the guest's case-3 form, sent with Le added
  bool may_be_case1 = false;          // a 5-byte TPDU with P3 = 00 (12.1.2)
  bool le_corrected = false;          // a 6Cxx was followed once already
  bool data_by_get_response = false;  // the guest's TPDU had data: T=0 case 4 (12.2.4)
  bool collecting = false;            // following the card's own 61xx
  unsigned get_responses = 0;
  std::vector<std::uint8_t> collected;
};

}  // namespace

struct T0Presenter::State {
  std::vector<std::uint8_t> card_atr;
  std::vector<std::uint8_t> presented_atr;
  bool translating = false;
  bool shaping = true;
  present::HeldResponse held{true};

  std::optional<Exchange> exchange;

  Step to_card(std::vector<std::uint8_t> command) {
    exchange->sent = command;
    return ToCard{std::move(command)};
  }
  Step to_guest(std::vector<std::uint8_t> response) {
    exchange.reset();
    return ToGuest{std::move(response)};
  }
  Step deliver(std::span<const std::uint8_t> response, bool by_get_response);
  Step on_card_response(std::span<const std::uint8_t> response);
  Step translate(std::span<const std::uint8_t> command);
};

// The card's final response goes to the guest: directly, or held and read with
// GET RESPONSE when the guest's command was T=0 case 4 or when QEMU would lose
// it at its size.
T0Presenter::Step T0Presenter::State::deliver(std::span<const std::uint8_t> response,
                                              bool by_get_response) {
  exchange.reset();
  const bool has_data = response.size() > 2;
  if (has_data && (by_get_response ||
                   (shaping && qemu_reader_mishandles_response(response.size())))) {
    return ToGuest{held.hold(response)};
  }
  return ToGuest{std::vector<std::uint8_t>(response.begin(), response.end())};
}

T0Presenter::Step T0Presenter::State::on_card_response(std::span<const std::uint8_t> response) {
  // Longer than any response APDU (an extended Ne of 65536 + SW): never held
  // or passed on, whatever the state.
  if (response.size() > kMaxResponseSize) return to_guest(kNoDiagnosis);
  if (!exchange) return deliver(response, false);
  Exchange& x = *exchange;
  if (response.size() < 2) return to_guest(std::vector<std::uint8_t>(response.begin(), response.end()));
  const std::uint16_t sw = sw_of(response);
  const auto data = response.first(response.size() - 2);

  if (x.collecting) {
    if (x.collected.size() + data.size() > kMaxCollected) return to_guest(kNoDiagnosis);
    x.collected.insert(x.collected.end(), data.begin(), data.end());
    if ((sw >> 8) == 0x61 && x.get_responses < kMaxGetResponses) {
      ++x.get_responses;
      return to_card({get_response_cla(x.sent[0]), kInsGetResponse, 0, 0,
                      static_cast<std::uint8_t>(sw & 0xFF)});
    }
    x.collected.push_back(static_cast<std::uint8_t>(sw >> 8));
    x.collected.push_back(static_cast<std::uint8_t>(sw & 0xFF));
    std::vector<std::uint8_t> full = std::move(x.collected);
    return deliver(full, x.data_by_get_response);
  }
  if (!translating) return deliver(response, false);

  // 6700 to the form with Le added: the command was case 3 after all (12.1.3).
  if (sw == 0x6700 && !x.case3.empty()) {
    std::vector<std::uint8_t> case3 = std::move(x.case3);
    x.case3.clear();
    return to_card(std::move(case3));
  }
  // 6700 to header + P3 = 00: the command was case 1, which T=0 sends with
  // P3 = 00 (12.1.2), not case 2 with Le = 256.
  if (sw == 0x6700 && x.may_be_case1) {
    x.may_be_case1 = false;
    return to_card(std::vector<std::uint8_t>(x.sent.begin(), x.sent.begin() + kHeaderSize));
  }
  // 6Cxx: wrong Le, xx is the exact count (7816-4 5.6; 7816-3 10.3.3): send the
  // same command again with Le = xx, once. Only a command with Le last can be.
  const bool has_le = x.sent.size() == kTpduHeaderSize ||
                      (x.sent.size() > kTpduHeaderSize && x.sent[4] != 0 &&
                       x.sent.size() == kTpduHeaderSize + x.sent[4] + 1u);
  if ((sw >> 8) == 0x6C && !x.le_corrected && has_le) {
    x.le_corrected = true;
    x.may_be_case1 = false;
    x.case3.clear();
    std::vector<std::uint8_t> again = x.sent;
    again.back() = static_cast<std::uint8_t>(sw & 0xFF);
    return to_card(std::move(again));
  }
  // 61xx from the card itself (some T=1 cards): collect the rest with GET
  // RESPONSE to the card before anything goes to the guest.
  if ((sw >> 8) == 0x61) {
    x.collecting = true;
    x.collected.assign(data.begin(), data.end());
    ++x.get_responses;
    return to_card({get_response_cla(x.sent[0]), kInsGetResponse, 0, 0,
                    static_cast<std::uint8_t>(sw & 0xFF)});
  }
  return deliver(response, x.data_by_get_response);
}

// A guest T=0 TPDU for a card that does not speak T=0 (7816-3 12.1).
T0Presenter::Step T0Presenter::State::translate(std::span<const std::uint8_t> command) {
  Exchange& x = *exchange;
  std::vector<std::uint8_t> bytes(command.begin(), command.end());
  if (command.size() < kHeaderSize) return to_guest(kWrongLength);
  if (command.size() <= kTpduHeaderSize) {
    // Case 1 (4 bytes) or header + P3: case 2 with Le = P3, or case 1 if P3 = 00.
    x.may_be_case1 = command.size() == kTpduHeaderSize && command[4] == 0;
    return to_card(std::move(bytes));
  }
  const std::size_t lc = command[4];
  if (lc != 0 && command.size() == kTpduHeaderSize + lc) {
    // CLA INS P1 P2 Lc data: case 3, or case 4 whose Le the guest dropped.
    x.data_by_get_response = true;
    if (never_returns_data(command[0], command[1])) return to_card(std::move(bytes));
    x.case3 = bytes;
    bytes.push_back(0x00);  // Le = 00: up to 256 bytes
    return to_card(std::move(bytes));
  }
  // A short case 4 with Le (not a T=0 TPDU, but unambiguous), or an extended
  // or malformed APDU: the card judges it as it is.
  return to_card(std::move(bytes));
}

T0Presenter::T0Presenter(std::span<const std::uint8_t> card_atr, PresenterOptions options)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.card_atr.assign(card_atr.begin(), card_atr.end());
  s.shaping = options.shape_responses;
  s.held = present::HeldResponse(s.shaping);
  if (options.t0 == T0Translation::On) {
    s.translating = true;
  } else if (options.t0 == T0Translation::Auto) {
    auto info = parse_atr(card_atr);
    s.translating = info && !info->offers(0);
  }
  s.presented_atr = s.card_atr;
  if (s.translating) {
    auto t0 = t0_only_atr(card_atr);
    if (!t0.empty()) s.presented_atr = std::move(t0);
  }
}

T0Presenter::~T0Presenter() = default;
T0Presenter::T0Presenter(T0Presenter&&) noexcept = default;
T0Presenter& T0Presenter::operator=(T0Presenter&&) noexcept = default;

std::span<const std::uint8_t> T0Presenter::card_atr() const { return state_->card_atr; }
std::span<const std::uint8_t> T0Presenter::presented_atr() const { return state_->presented_atr; }
bool T0Presenter::translating() const { return state_->translating; }
bool T0Presenter::shaping() const { return state_->shaping; }

T0Presenter::Step T0Presenter::on_command(std::span<const std::uint8_t> command) {
  State& s = *state_;
  s.exchange.reset();
  if (is_get_response(command)) {
    if (!s.held.empty()) return ToGuest{s.held.serve(command[4])};
    // Nothing held. The translated card has nothing pending either (its own
    // 61xx chains are collected), so answer as a T=0 card with nothing to give.
    if (s.translating) return ToGuest{kNotAllowed};
  }
  s.held.drop();
  s.exchange.emplace();
  if (s.translating) return s.translate(command);
  return s.to_card(std::vector<std::uint8_t>(command.begin(), command.end()));
}

T0Presenter::Step T0Presenter::on_card_response(std::span<const std::uint8_t> response) {
  return state_->on_card_response(response);
}

void T0Presenter::on_card_failed() {
  state_->exchange.reset();
  state_->held.drop();
}

}  // namespace vscard
