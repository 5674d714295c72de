// SPDX-License-Identifier: LGPL-2.1-or-later
// Fuzz target: the ATR parser (ISO 7816-3 section 8) and QEMU's acceptance rule.
//
// An ATR comes from the client (a card, or a hostile peer) in an ATR message, so
// any bytes at all must give a defined answer. Checked: a parsed ATR respects the
// limits it claims (at most 33 bytes, TS 3B/3F, TCK XOR zero when present, at most
// 15 historical bytes lying inside the input), an error is reported for every
// refusal, and QEMU's rule never accepts more than its 40-byte cap.
#include <algorithm>

#include "fuzz_check.h"
#include "vscard/atr.h"

using namespace vscard;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> atr(data, size);
  AtrError error = AtrError::None;
  const auto info = parse_atr(atr, &error);
  if (info) {
    FUZZ_CHECK(error == AtrError::None);
    FUZZ_CHECK(size >= 2 && size <= kIsoMaxAtrSize);
    FUZZ_CHECK(data[0] == 0x3B || data[0] == 0x3F);
    FUZZ_CHECK(info->inverse_convention == (data[0] == 0x3F));
    FUZZ_CHECK(info->historical.size() == (data[1] & 0x0Fu));
    FUZZ_CHECK(info->historical.empty() ||
               (info->historical.data() >= data &&
                info->historical.data() + info->historical.size() <= data + size));
    if (info->has_tck) {
      std::uint8_t x = 0;
      for (std::size_t i = 1; i < size; ++i) x ^= data[i];
      FUZZ_CHECK(x == 0);
    }
    FUZZ_CHECK(info->protocols != 0);
    FUZZ_CHECK(!protocols_to_string(*info).empty());
  } else {
    FUZZ_CHECK(error != AtrError::None);
    FUZZ_CHECK(!to_string(error).empty());
  }
  if (qemu_accepts_atr(atr)) FUZZ_CHECK(size <= kQemuMaxAtrSize);
  return 0;
}
