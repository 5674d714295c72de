// SPDX-License-Identifier: LGPL-2.1-or-later
// pcsc_direct: the same APDU, sent straight to a PC/SC reader with
// SCardTransmit, timed per round trip. The baseline of vscclient --pcsc: what
// the bridge adds is its p50 minus this one, measured on the same card in the
// same run (run-bench.sh --sections pcsc, tests/bench/README.md).
//
// Usage: pcsc_direct --reader NAME --apdu HEX [--count C] [--warmup W]
// Prints one JSON line: count, latency_*_us (bench_util.h).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.h"
#include "pcsc_card.h"
#include "vscard/apdu.h"

int main(int argc, char** argv) {
  std::string reader, apdu_hex;
  std::size_t count = 300, warmup = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string opt = argv[i], value = argv[i + 1];
    if (opt == "--reader") reader = value;
    else if (opt == "--apdu") apdu_hex = value;
    else if (opt == "--count") count = std::strtoul(value.c_str(), nullptr, 10);
    else if (opt == "--warmup") warmup = std::strtoul(value.c_str(), nullptr, 10);
    else {
      std::fprintf(stderr, "usage: pcsc_direct --reader NAME --apdu HEX [--count C] [--warmup W]\n");
      return 2;
    }
  }
  auto apdu = vscard::from_hex(apdu_hex);
  if (reader.empty() || !apdu || apdu->size() < 4) {
    std::fprintf(stderr, "pcsc_direct: --reader and --apdu (at least 4 bytes) are required\n");
    return 2;
  }
  bench::PcscCard card;
  std::string error;
  if (!card.open(reader, error)) {
    std::fprintf(stderr, "pcsc_direct: %s\n", error.c_str());
    return 1;
  }
  bench::Latencies lat;
  lat.reserve(count);
  for (std::size_t i = 0; i < warmup + count; ++i) {
    std::uint64_t start = bench::now_ns();
    LONG rv = card.transmit(*apdu);
    std::uint64_t end = bench::now_ns();
    if (rv != SCARD_S_SUCCESS) {
      std::fprintf(stderr, "pcsc_direct: SCardTransmit: %s\n", pcsc_stringify_error(rv));
      return 1;
    }
    if (i >= warmup) lat.add(end - start);
  }
  bench::JsonObject json;
  json.integer("count", static_cast<long long>(count)).latencies("latency", lat);
  std::printf("%s\n", json.text().c_str());
  return 0;
}
