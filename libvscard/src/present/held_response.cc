// SPDX-License-Identifier: LGPL-2.1-or-later
// See held_response.h.
#include "present/held_response.h"

#include <algorithm>

#include "vscard/qemu_reader.h"

namespace vscard::present {
namespace {

// The most a short Le asks for (P3 = 00 means 256, ISO 7816-3 12.1.3).
constexpr std::size_t kMaxShortLe = 256;

}  // namespace

void HeldResponse::drop() {
  held_ = false;
  data_.clear();
  data_.shrink_to_fit();  // the bound is one response, not the largest ever seen
  offset_ = 0;
}

std::size_t HeldResponse::next_chunk(std::size_t remaining) const {
  std::size_t chunk = std::min(remaining, kMaxShortLe);
  // Each chunk travels as chunk + 2 bytes (61xx or the final SW): step down
  // past any size QEMU mishandles. 1 + 2 bytes is always carried.
  while (shaping_ && chunk > 1 && qemu_reader_mishandles_response(chunk + 2)) --chunk;
  return chunk;
}

std::vector<std::uint8_t> HeldResponse::announce(std::uint8_t sw1, std::size_t remaining) const {
  // SW2 = 00 stands for 256 (ISO 7816-3 10.3.3 for 61xx and 6Cxx).
  return {sw1, static_cast<std::uint8_t>(next_chunk(remaining) & 0xFF)};
}

std::vector<std::uint8_t> HeldResponse::hold(std::span<const std::uint8_t> response) {
  const std::size_t data_size = response.size() - 2;
  data_.assign(response.begin(), response.begin() + static_cast<std::ptrdiff_t>(data_size));
  sw1_ = response[data_size];
  sw2_ = response[data_size + 1];
  offset_ = 0;
  held_ = true;
  return announce(0x61, data_.size());
}

std::vector<std::uint8_t> HeldResponse::serve(std::uint8_t p3) {
  const std::size_t le = p3 == 0 ? kMaxShortLe : p3;
  const std::size_t remaining = data_.size() - offset_;
  if (le > remaining || (shaping_ && qemu_reader_mishandles_response(le + 2))) {
    return announce(0x6C, remaining);
  }
  std::vector<std::uint8_t> out(data_.begin() + static_cast<std::ptrdiff_t>(offset_),
                                data_.begin() + static_cast<std::ptrdiff_t>(offset_ + le));
  offset_ += le;
  if (offset_ < data_.size()) {
    const auto more = announce(0x61, data_.size() - offset_);
    out.insert(out.end(), more.begin(), more.end());
  } else {
    out.push_back(sw1_);
    out.push_back(sw2_);
    drop();
  }
  return out;
}

}  // namespace vscard::present
