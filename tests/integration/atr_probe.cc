// SPDX-License-Identifier: LGPL-2.1-or-later
// Test helper for test_atr_qemu_differential.py: reads one ATR per line as hex on
// stdin (an empty line is the empty ATR) and prints, per line,
//   "<1|0> <iso>"
// where 1/0 is vscard::qemu_accepts_atr() and <iso> is "ok" or parse_atr()'s
// error name. Exits 2 on a line that is not hex.
#include <cstdio>
#include <iostream>
#include <string>

#include "vscard/apdu.h"
#include "vscard/atr.h"

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    const auto atr = vscard::from_hex(line);
    if (!atr) {
      std::fprintf(stderr, "atr_probe: not hex: %s\n", line.c_str());
      return 2;
    }
    vscard::AtrError error = vscard::AtrError::None;
    const bool iso_ok = vscard::parse_atr(*atr, &error).has_value();
    std::printf("%d %s\n", vscard::qemu_accepts_atr(*atr) ? 1 : 0,
                iso_ok ? "ok" : std::string(vscard::to_string(error)).c_str());
  }
  return 0;
}
