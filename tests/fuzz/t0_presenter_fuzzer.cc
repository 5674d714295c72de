// SPDX-License-Identifier: LGPL-2.1-or-later
// Fuzz target: T0Presenter (vscard/t0_presenter.h) between a hostile guest and a
// hostile card.
//
// Input: one options byte (bits 0-1: T=0 mode Auto/On/Off, bit 2: shaping off),
// one ATR length byte and the ATR, then events until the input ends: a kind byte
// (0 guest command, 1 card response, 2 card failure, 3 a checked round trip), a
// length byte and that many bytes (a card response may be repeated to reach
// large sizes: the length byte then counts 256-byte units).
//
// Checked, whatever the bytes:
//  - with shaping, no response for the guest has a size QEMU mishandles;
//  - no response for the guest exceeds 65538 bytes, no command for the card
//    exceeds its guest command plus one byte (a GET RESPONSE is 5);
//  - one guest command leads to a bounded number of card commands;
//  - a presented ATR that differs from the card's parses as T=0 only, without
//    TCK, and is accepted by QEMU's rule;
//  - a checked round trip (kind 3, T=0 card or translation off): the guest,
//    following 61xx with GET RESPONSE, receives exactly the card's data and
//    final status word.
#include <algorithm>
#include <variant>
#include <vector>

#include "fuzz_check.h"
#include "vscard/atr.h"
#include "vscard/qemu_reader.h"
#include "vscard/t0_presenter.h"

using namespace vscard;

namespace {

struct Reader {
  const std::uint8_t* data;
  std::size_t size, pos = 0;
  bool done() const { return pos >= size; }
  std::uint8_t byte() { return pos < size ? data[pos++] : 0; }
  std::vector<std::uint8_t> bytes(std::size_t n) {
    n = std::min(n, size - std::min(pos, size));
    std::vector<std::uint8_t> out(data + pos, data + pos + n);
    pos += n;
    return out;
  }
};

// Follows the presenter's card commands with `card` answers; returns the guest's reply.
struct Checker {
  T0Presenter& presenter;
  std::size_t max_command = 0;
  unsigned card_commands = 0;

  std::vector<std::uint8_t> check_step(const T0Presenter::Step& step) {
    if (const auto* guest = std::get_if<T0Presenter::ToGuest>(&step)) {
      FUZZ_CHECK(guest->response.size() <= T0Presenter::kMaxResponseSize);
      if (presenter.shaping()) FUZZ_CHECK(!qemu_reader_mishandles_response(guest->response.size()));
      return guest->response;
    }
    const auto& card = std::get<T0Presenter::ToCard>(step).command;
    FUZZ_CHECK(card.size() <= std::max<std::size_t>(max_command + 1, 5));
    ++card_commands;
    FUZZ_CHECK(card_commands <= 310);  // 300 GET RESPONSE + retries
    return {};
  }
};

void round_trip(T0Presenter& presenter, Checker& checker, std::vector<std::uint8_t> command,
                const std::vector<std::uint8_t>& card_response) {
  if (command.size() == 5 && command[1] == 0xC0) command[1] = 0xB0;  // not a GET RESPONSE
  checker.max_command = command.size();
  checker.card_commands = 0;
  T0Presenter::Step step = presenter.on_command(command);
  if (std::holds_alternative<T0Presenter::ToGuest>(step)) return;  // answered locally
  checker.check_step(step);
  std::vector<std::uint8_t> got;
  std::vector<std::uint8_t> reply = checker.check_step(presenter.on_card_response(card_response));
  for (int rounds = 0; rounds < 1000; ++rounds) {
    if (reply.size() >= 2 && reply[reply.size() - 2] == 0x61) {
      got.insert(got.end(), reply.begin(), reply.end() - 2);
      const std::uint8_t le = reply.back();
      const std::uint8_t get_response[] = {0x00, 0xC0, 0x00, 0x00, le};
      T0Presenter::Step next = presenter.on_command(get_response);
      FUZZ_CHECK(std::holds_alternative<T0Presenter::ToGuest>(next));  // served locally
      reply = checker.check_step(next);
      continue;
    }
    got.insert(got.end(), reply.begin(), reply.end());
    FUZZ_CHECK(got == card_response);
    return;
  }
  FUZZ_CHECK(!"endless GET RESPONSE chain");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in{data, size};
  const std::uint8_t flags = in.byte();
  PresenterOptions options;
  options.t0 = (flags & 3) == 1 ? T0Translation::On
               : (flags & 3) == 2 ? T0Translation::Off
                                  : T0Translation::Auto;
  options.shape_responses = (flags & 4) == 0;
  const std::vector<std::uint8_t> atr = in.bytes(in.byte());
  T0Presenter presenter(atr, options);

  const auto presented = presenter.presented_atr();
  if (!std::equal(presented.begin(), presented.end(), atr.begin(), atr.end())) {
    FUZZ_CHECK(presenter.translating());
    const auto info = parse_atr(presented);
    FUZZ_CHECK(info && info->protocols == 1 && !info->has_tck);
    FUZZ_CHECK(qemu_accepts_atr(presented));
  }

  Checker checker{presenter};
  while (!in.done()) {
    const std::uint8_t kind = in.byte() & 3;
    std::size_t length = in.byte();
    std::vector<std::uint8_t> bytes = in.bytes(length);
    if (kind == 0) {
      checker.max_command = bytes.size();
      checker.card_commands = 0;
      checker.check_step(presenter.on_command(bytes));
    } else if (kind == 1) {
      // Large responses from a few input bytes: repeat them (length * 256 bytes at most).
      if (!bytes.empty() && bytes[0] == 0xFF) {
        std::vector<std::uint8_t> big;
        while (big.size() < length * 260) big.insert(big.end(), bytes.begin(), bytes.end());
        bytes = std::move(big);
      }
      checker.check_step(presenter.on_card_response(bytes));
    } else if (kind == 2) {
      presenter.on_card_failed();
    } else if (!presenter.translating() && bytes.size() >= 1) {
      // First byte: how many of the rest form the command; the rest is the
      // card's response, which must not itself ask the guest for more.
      const std::size_t split = std::min<std::size_t>(bytes[0], bytes.size() - 1);
      std::vector<std::uint8_t> command(bytes.begin() + 1, bytes.begin() + 1 + split);
      std::vector<std::uint8_t> response(bytes.begin() + 1 + split, bytes.end());
      if (response.size() >= 2 && response[response.size() - 2] == 0x61) continue;
      round_trip(presenter, checker, command, response);
    }
  }
  return 0;
}
