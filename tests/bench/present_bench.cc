// SPDX-License-Identifier: LGPL-2.1-or-later
// T0Presenter's own cost per guest command (vscard/t0_presenter.h), against
// copying the same command and response into fresh vectors, which is what the
// bridge does for every APDU anyway. tests/bench/README.md explains the rows.
//   BM_CopyOnly          the baseline: command and response copied once each
//   BM_T0CardPassthrough a T=0 card (the soft card's case): shaping only, a
//                        SELECT and its 2-byte answer pass unchanged
//   BM_TranslatedSelect  a T=1-only card: the case-3-form SELECT goes out with
//                        Le, the 20-byte FCI is held, 61 14, then the guest's
//                        GET RESPONSE is answered from the held response
//   BM_Shaped54          a 54-byte answer split into 61 33, 51 bytes + 61 01,
//                        1 byte + SW (three guest commands)
#include <benchmark/benchmark.h>

#include <variant>
#include <vector>

#include "vscard/t0_presenter.h"

namespace {

using Bytes = std::vector<std::uint8_t>;

const Bytes kT0Atr = {0x3B, 0x7A, 0x18, 0x00, 0x00, 0x73, 0x66, 0x74, 0x65,
                      0x20, 0x63, 0x64, 0x31, 0x34, 0x34};  // libcacard's CAC ATR
const Bytes kT1Atr = {0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B};  // vicc
const Bytes kSelect = {0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x79, 0x01, 0x00};

Bytes with_sw(std::size_t data, std::uint16_t sw) {
  Bytes out(data, 0x5A);
  out.push_back(static_cast<std::uint8_t>(sw >> 8));
  out.push_back(static_cast<std::uint8_t>(sw));
  return out;
}

// Runs one guest command: every ToCard is answered with `card`.
std::size_t run(vscard::T0Presenter& p, const Bytes& command, const Bytes& card) {
  auto step = p.on_command(command);
  while (std::holds_alternative<vscard::T0Presenter::ToCard>(step)) step = p.on_card_response(card);
  return std::get<vscard::T0Presenter::ToGuest>(step).response.size();
}

void BM_CopyOnly(benchmark::State& state) {
  const Bytes answer = with_sw(0, 0x610D);
  for (auto _ : state) {
    Bytes command(kSelect.begin(), kSelect.end());
    Bytes response(answer.begin(), answer.end());
    benchmark::DoNotOptimize(command.data());
    benchmark::DoNotOptimize(response.data());
  }
}

void BM_T0CardPassthrough(benchmark::State& state) {
  vscard::T0Presenter p(kT0Atr);
  const Bytes answer = with_sw(0, 0x610D);
  for (auto _ : state) benchmark::DoNotOptimize(run(p, kSelect, answer));
}

void BM_TranslatedSelect(benchmark::State& state) {
  vscard::T0Presenter p(kT1Atr);
  const Bytes fci = with_sw(20, 0x9000);
  const Bytes get_response = {0x00, 0xC0, 0x00, 0x00, 0x14};
  for (auto _ : state) {
    benchmark::DoNotOptimize(run(p, kSelect, fci));
    benchmark::DoNotOptimize(run(p, get_response, fci));
  }
}

void BM_Shaped54(benchmark::State& state) {
  vscard::T0Presenter p(kT0Atr);
  const Bytes answer = with_sw(52, 0x9000);
  const Bytes read = {0x00, 0xB0, 0x00, 0x00, 0x34};
  const Bytes first = {0x00, 0xC0, 0x00, 0x00, 0x33}, second = {0x00, 0xC0, 0x00, 0x00, 0x01};
  for (auto _ : state) {
    benchmark::DoNotOptimize(run(p, read, answer));
    benchmark::DoNotOptimize(run(p, first, answer));
    benchmark::DoNotOptimize(run(p, second, answer));
  }
}

BENCHMARK(BM_CopyOnly);
BENCHMARK(BM_T0CardPassthrough);
BENCHMARK(BM_TranslatedSelect);
BENCHMARK(BM_Shaped54);

}  // namespace

BENCHMARK_MAIN();
