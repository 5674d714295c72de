// SPDX-License-Identifier: LGPL-2.1-or-later
// pcsc_direct: the same APDU, sent straight to a PC/SC reader with
// SCardTransmit, timed per round trip. The baseline of vscclient --pcsc: what
// the bridge adds is its p50 minus this one, measured on the same card in the
// same run (run-bench.sh --sections pcsc, tests/bench/README.md).
//
// Usage: pcsc_direct --reader NAME --apdu HEX [--count C] [--warmup W]
// Prints one JSON line: count, latency_*_us (bench_util.h).
#include <winscard.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.h"

namespace {

[[noreturn]] void die(const char* what, LONG rv) {
  std::fprintf(stderr, "pcsc_direct: %s: %s\n", what, pcsc_stringify_error(rv));
  std::exit(1);
}

std::vector<BYTE> from_hex(const std::string& hex) {
  std::vector<BYTE> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<BYTE>(std::strtoul(hex.substr(i, 2).c_str(), nullptr, 16)));
  }
  return out;
}

}  // namespace

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
  std::vector<BYTE> apdu = from_hex(apdu_hex);
  if (reader.empty() || apdu.size() < 4) {
    std::fprintf(stderr, "pcsc_direct: --reader and --apdu (at least 4 bytes) are required\n");
    return 2;
  }
  SCARDCONTEXT context = 0;
  if (LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &context);
      rv != SCARD_S_SUCCESS) {
    die("SCardEstablishContext", rv);
  }
  SCARDHANDLE card = 0;
  DWORD protocol = 0;
  // Shared, as vscclient --pcsc connects by default.
  if (LONG rv = SCardConnect(context, reader.c_str(), SCARD_SHARE_SHARED,
                             SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &protocol);
      rv != SCARD_S_SUCCESS) {
    die("SCardConnect", rv);
  }
  const SCARD_IO_REQUEST* pci = protocol == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_T0;
  std::vector<BYTE> response(65538);
  bench::Latencies lat;
  lat.reserve(count);
  for (std::size_t i = 0; i < warmup + count; ++i) {
    DWORD size = static_cast<DWORD>(response.size());
    std::uint64_t start = bench::now_ns();
    LONG rv = SCardTransmit(card, pci, apdu.data(), static_cast<DWORD>(apdu.size()), nullptr,
                            response.data(), &size);
    std::uint64_t end = bench::now_ns();
    if (rv != SCARD_S_SUCCESS) die("SCardTransmit", rv);
    if (i >= warmup) lat.add(end - start);
  }
  SCardDisconnect(card, SCARD_LEAVE_CARD);
  SCardReleaseContext(context);
  bench::JsonObject json;
  json.integer("count", static_cast<long long>(count)).latencies("latency", lat);
  std::printf("%s\n", json.text().c_str());
  return 0;
}
