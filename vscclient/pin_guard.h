// SPDX-License-Identifier: LGPL-2.1-or-later
// PinGuard: keeps a guest from using up the last tries of the user's PIN.
//
// A VSCard host (a QEMU guest) sends the card any APDU it likes, VERIFY
// included; each wrong PIN costs one try, and a card whose counter reaches zero
// is blocked until someone with the PUK resets it. With `vscclient --pin-guard[=N]`
// the guard watches the card's answers to VERIFY (ISO 7816-4 11.5.6, INS 20 and
// 21) and CHANGE REFERENCE DATA (11.5.7, INS 24 and 25, which presents the
// current PIN too) per PIN reference (P2). Once the card says N or fewer tries are left
// (SW 63Cx, x <= N) or the reference is blocked (6983), further VERIFY and
// CHANGE REFERENCE DATA commands carrying a PIN for that reference are answered locally with 6983 ("authentication
// method blocked") and never reach the card, until
//   - the user types `allow-pin` on vscclient's stdin (allow()), or
//   - the card reports a successful VERIFY for that reference (9000), or a
//     retry counter above N again (a VERIFY without data, which only asks for
//     the counter, is always forwarded: it costs no try), or
//   - the card is replaced (the program makes a new guard).
//
// Trade-off: with the guard on, a guest application sees a "blocked" PIN while
// the card still has N tries; the user decides, with `allow-pin`, whether the
// next attempt may reach the card. Off by default (DESIGN: vscclient forwards
// what the host sends).
//
// Pure logic: no I/O, no clock, no GLib; one instance per card.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

namespace vscclient {

class PinGuard {
 public:
  // --pin-guard with no value: keep the last try for the user.
  static constexpr unsigned kDefaultThreshold = 1;

  explicit PinGuard(unsigned threshold = kDefaultThreshold) : threshold_(threshold) {}

  // A command from the host, before it goes to the card. Returns the local
  // response (69 83) if the guard refuses it; then it must not be forwarded and
  // on_response() must not be called for it.
  std::optional<std::vector<std::uint8_t>> on_command(std::span<const std::uint8_t> apdu);

  // What a change of state means, for one log line.
  struct Notice {
    enum class Kind { Guarding, Released } kind;
    std::uint8_t reference = 0;
    std::optional<unsigned> tries_left;  // nullopt: blocked (6983)
  };
  // The card's response to the last command on_command() let through.
  std::optional<Notice> on_response(std::span<const std::uint8_t> response);

  // The user's `allow-pin`: every guarded reference may be tried again. Returns
  // the references released. A later low-tries answer guards them again.
  std::vector<std::uint8_t> allow();

  bool guarding(std::uint8_t reference) const { return guarded_.count(reference) != 0; }
  unsigned threshold() const { return threshold_; }
  // VERIFY commands answered locally since construction.
  std::uint64_t refused() const { return refused_; }

 private:
  unsigned threshold_;
  std::optional<std::uint8_t> pending_reference_;  // the VERIFY awaiting its answer
  std::map<std::uint8_t, std::optional<unsigned>> guarded_;  // reference -> tries left
  std::uint64_t refused_ = 0;
};

}  // namespace vscclient
