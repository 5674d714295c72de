// SPDX-License-Identifier: LGPL-2.1-or-later
// The response a T0Presenter holds for the guest's GET RESPONSE commands, and
// the chunk sizes it hands out (ISO/IEC 7816-3:2006 10.3.3 and 12.2.4; QEMU's
// limits in vscard/qemu_reader.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace vscard::present {

class HeldResponse {
 public:
  explicit HeldResponse(bool shaping) : shaping_(shaping) {}

  bool empty() const { return !held_; }
  void drop();

  // Holds `response` (data + SW1 SW2, at least 2 bytes) and returns the `61xx`
  // that tells the guest how many bytes to ask for first.
  std::vector<std::uint8_t> hold(std::span<const std::uint8_t> response);

  // Answers a GET RESPONSE whose P3 is `p3` from the held response: `le` bytes
  // then `61xx` (more left) or the card's final SW1 SW2 (all read; the response
  // is then dropped). When `le` is more than is left, or would make a response
  // QEMU mishandles, answers `6Cxx` with the count to ask for instead, as a T=0
  // card answers a wrong P3 (10.3.3), and keeps the response.
  std::vector<std::uint8_t> serve(std::uint8_t p3);

  // How many bytes the next chunk holds when `remaining` are left: at most 256
  // (a short Le), and with shaping never a size whose response QEMU mishandles.
  std::size_t next_chunk(std::size_t remaining) const;

 private:
  std::vector<std::uint8_t> announce(std::uint8_t sw1, std::size_t remaining) const;

  bool shaping_;
  bool held_ = false;
  std::vector<std::uint8_t> data_;
  std::size_t offset_ = 0;
  std::uint8_t sw1_ = 0, sw2_ = 0;
};

}  // namespace vscard::present
