// SPDX-License-Identifier: LGPL-2.1-or-later
// cacard_xfr: libcacard's own cost per APDU, in-process, with the same soft
// card vscclient --soft-card emulates (same NSS database, same emulator
// arguments: vscclient/soft_card.h, vscclient/emul_args.h). This is the card's
// share of a bridged round trip; run_bench.py subtracts it to get what the
// bridge adds.
//
//   cacard_xfr --apdu HEX --count C [--warmup W]
//   cacard_xfr --cac-sessions K
//
// Prints one JSON object.
#include <libcacard.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.h"
#include "cac_session.h"
#include "emul_args.h"
#include "soft_card.h"
#include "vscard/apdu.h"
#include "vscard/decoder.h"

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "cacard_xfr: %s\n", what.c_str());
  std::exit(1);
}

// Waits for libcacard's first card and powers it on, as vscclient does before
// announcing the ATR (vscclient/cacard_source.cc).
VReader* first_card() {
  while (VEvent* event = vevent_wait_next_vevent()) {
    if (event->type == VEVENT_CARD_INSERT) {
      VReader* reader = vreader_reference(event->reader);
      vevent_delete(event);
      unsigned char atr[64];
      int len = sizeof atr;
      if (vreader_power_on(reader, atr, &len) != VREADER_OK) die("power on failed");
      return reader;
    }
    vevent_delete(event);
  }
  die("libcacard reported no card");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::uint8_t> apdu;
  std::size_t count = 20000, warmup = 500, sessions = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string opt = argv[i], v = argv[i + 1];
    if (opt == "--apdu" && vscard::from_hex(v)) apdu = *vscard::from_hex(v);
    else if (opt == "--count") count = std::stoul(v);
    else if (opt == "--warmup") warmup = std::stoul(v);
    else if (opt == "--cac-sessions") sessions = std::stoul(v);
    else die("usage: cacard_xfr (--apdu HEX [--count C] [--warmup W] | --cac-sessions K)");
  }
  if (apdu.empty() && sessions == 0) die("give --apdu HEX or --cac-sessions K");

  std::string error;
  auto card = vscclient::ensure_soft_card(vscclient::default_soft_card_dir(), &error);
  if (!card) die(error);
  std::string emul = "use_hw=no " + vscclient::build_soft_emul_args(
                                        vscclient::db_emul_arg("sql:" + card->db_dir),
                                        card->nicknames);
  VCardEmulOptions* options = vcard_emul_options(emul.c_str());
  if (options == nullptr || vcard_emul_init(options) != VCARD_EMUL_OK) {
    die("libcacard could not start with '" + emul + "'");
  }
  VReader* reader = first_card();

  // The buffer vscclient hands to vreader_xfr_bytes: the wire limit.
  std::vector<std::uint8_t> buffer(vscard::kDefaultMaxMessageSize - vscard::kHeaderSize);
  auto xfr = [&](const std::vector<std::uint8_t>& command, std::vector<std::uint8_t>& response) {
    int len = static_cast<int>(buffer.size());
    if (vreader_xfr_bytes(reader, const_cast<unsigned char*>(command.data()),
                          static_cast<int>(command.size()), buffer.data(), &len) != VREADER_OK) {
      return false;
    }
    response.assign(buffer.begin(), buffer.begin() + len);
    return true;
  };

  bench::JsonObject json;
  bench::Latencies lat;
  std::vector<std::uint8_t> response;
  std::uint64_t elapsed = 0;
  std::size_t done = 0;
  if (!apdu.empty()) {
    for (std::size_t i = 0; i < warmup; ++i) xfr(apdu, response);
    lat.reserve(count);
    std::uint64_t start = bench::now_ns();
    for (; done < count; ++done) {
      std::uint64_t t0 = bench::now_ns();
      if (!xfr(apdu, response)) die("vreader_xfr_bytes failed");
      lat.add(bench::now_ns() - t0);
    }
    elapsed = bench::now_ns() - start;
    json.str("bench", "cacard_xfr").str("command", vscard::to_hex(apdu))
        .str("response", vscard::to_hex(response));
  } else {
    bench::CacSession cac(xfr);
    bench::CacSessionResult result = cac.run();  // warm-up
    lat.reserve(sessions);
    std::uint64_t start = bench::now_ns();
    for (; done < sessions; ++done) {
      std::uint64_t t0 = bench::now_ns();
      result = cac.run();
      if (!result.ok) die("CAC session failed: " + result.error);
      lat.add(bench::now_ns() - t0);
    }
    elapsed = bench::now_ns() - start;
    json.str("bench", "cacard_session").integer("apdus_per_session", result.apdus);
  }
  json.integer("count", static_cast<long long>(done))
      .num("seconds", static_cast<double>(elapsed) / 1e9)
      .num("per_s", static_cast<double>(done) * 1e9 / static_cast<double>(elapsed))
      .latencies("latency", lat);
  std::printf("%s\n", json.text().c_str());
  vreader_free(reader);
  std::fflush(stdout);
  // libcacard's NSS state is process-global; exiting releases it.
  std::_Exit(0);
}
