// SPDX-License-Identifier: LGPL-2.1-or-later
// Wire-layer throughput: encode and decode of APDU messages (payloads of 5, 261,
// 4096 and 65524 bytes) and of header-only messages (Flush), against memcpy of
// the same bytes in the same run. tests/bench/README.md explains the figures.
//
// Every benchmark works on a stream of about 1 MiB of back-to-back messages, as a
// peer pipelining APDUs would fill a socket:
//   BM_Memcpy        copies the stream once (the baseline);
//   BM_Encode        encodes the stream's messages into a reused buffer;
//   BM_Decode        decodes the stream handed over as one buffer (zero-copy path);
//   BM_DecodeChunked decodes it in 16 KiB reads, as recv() would deliver it, so
//                    messages that straddle two reads are gathered (copied) by the
//                    decoder.
// After the table, a summary prints ns per message, GB/s and the ratios.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "vscard/decoder.h"
#include "vscard/message.h"

namespace {

using vscard::Bytes;

constexpr std::size_t kStreamTarget = 1u << 20;  // bytes per stream
constexpr std::size_t kReadSize = 16 * 1024;     // BM_DecodeChunked's read size
// Payload sizes; 0 means a header-only Flush. 65524 + 12 fills the 64 KiB limit.
constexpr std::int64_t kSizes[] = {0, 5, 261, 4096, 65524};

struct Stream {
  std::vector<std::uint8_t> payload;
  vscard::Message message;
  std::vector<std::uint8_t> bytes;
  std::size_t count = 0;
};

const Stream& stream_for(std::size_t payload_size) {
  static std::map<std::size_t, Stream> cache;
  auto [it, inserted] = cache.try_emplace(payload_size);
  Stream& s = it->second;
  if (!inserted) return s;
  s.payload.resize(payload_size);
  for (std::size_t i = 0; i < payload_size; ++i) s.payload[i] = static_cast<std::uint8_t>(i * 7);
  s.message.reader_id = 0;
  if (payload_size == 0) {
    s.message.body = vscard::Flush{};
  } else {
    s.message.body = vscard::Apdu{Bytes(s.payload)};
  }
  const std::size_t wire = vscard::kHeaderSize + payload_size;
  s.count = std::max<std::size_t>(16, kStreamTarget / wire);
  s.bytes.reserve(s.count * wire);
  for (std::size_t i = 0; i < s.count; ++i) {
    if (!vscard::encode(s.message, s.bytes)) std::abort();
  }
  return s;
}

void set_counters(benchmark::State& state, const Stream& s) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.bytes.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * s.count));
}

void BM_Memcpy(benchmark::State& state) {
  const Stream& s = stream_for(static_cast<std::size_t>(state.range(0)));
  std::vector<std::uint8_t> out(s.bytes.size());
  for (auto _ : state) {
    std::memcpy(out.data(), s.bytes.data(), s.bytes.size());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, s);
}

void BM_Encode(benchmark::State& state) {
  const Stream& s = stream_for(static_cast<std::size_t>(state.range(0)));
  std::vector<std::uint8_t> out;
  out.reserve(s.bytes.size());
  for (auto _ : state) {
    out.clear();
    for (std::size_t i = 0; i < s.count; ++i) {
      if (!vscard::encode(s.message, out)) {
        state.SkipWithError("encode refused a message");
        break;
      }
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  if (out != s.bytes) state.SkipWithError("encoded stream differs from the reference");
  set_counters(state, s);
}

// Decodes `input` to the end; returns the number of messages and adds up their
// payload sizes into `payload_bytes`, so nothing can be optimised away.
std::size_t drain(vscard::Decoder& decoder, Bytes input, std::size_t& payload_bytes) {
  std::size_t messages = 0;
  for (;;) {
    vscard::Decoded d = decoder.next(input);
    if (d.status != vscard::DecodeStatus::Message) break;
    ++messages;
    payload_bytes += d.header.length;
  }
  return messages;
}

void BM_Decode(benchmark::State& state) {
  const Stream& s = stream_for(static_cast<std::size_t>(state.range(0)));
  vscard::Decoder decoder;
  std::size_t payload_bytes = 0;
  for (auto _ : state) {
    const std::size_t n = drain(decoder, Bytes(s.bytes), payload_bytes);
    if (n != s.count) state.SkipWithError("decoded message count differs");
    benchmark::DoNotOptimize(payload_bytes);
  }
  set_counters(state, s);
}

void BM_DecodeChunked(benchmark::State& state) {
  const Stream& s = stream_for(static_cast<std::size_t>(state.range(0)));
  vscard::Decoder decoder;
  std::size_t payload_bytes = 0;
  for (auto _ : state) {
    std::size_t n = 0;
    for (std::size_t pos = 0; pos < s.bytes.size(); pos += kReadSize) {
      const std::size_t len = std::min(kReadSize, s.bytes.size() - pos);
      n += drain(decoder, Bytes(s.bytes.data() + pos, len), payload_bytes);
    }
    if (n != s.count) state.SkipWithError("decoded message count differs");
    benchmark::DoNotOptimize(payload_bytes);
  }
  set_counters(state, s);
}

void sizes(benchmark::internal::Benchmark* b) {
  for (std::int64_t size : kSizes) b->Arg(size);
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_Memcpy)->Apply(sizes);
BENCHMARK(BM_Encode)->Apply(sizes);
BENCHMARK(BM_Decode)->Apply(sizes);
BENCHMARK(BM_DecodeChunked)->Apply(sizes);

// Prints the usual table, remembers each run's rates, then prints the summary
// the README describes (per payload size: ns/message, GB/s, ratio to memcpy).
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    // With --benchmark_repetitions the median row is used (steadier on a busy
    // machine); without, the single iteration row.
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type != Run::RT_Iteration && !median) continue;
      Rates& r = rates_[{run.run_name.function_name, run.run_name.args}];
      if (median) r = Rates{0, 0, 0, true};
      if (r.from_median && !median) continue;
      r.bytes_per_second += run.counters.at("bytes_per_second").value;
      r.items_per_second += run.counters.at("items_per_second").value;
      ++r.samples;
    }
  }

  void print_summary() const {
    std::printf("\nSummary (CPU time, median of repetitions if any; ratio = time / memcpy time\n"
                "for the same bytes)\n");
    std::printf("%-8s %-17s %12s %10s %14s %8s\n", "payload", "benchmark", "ns/message",
                "GB/s", "messages/s", "ratio");
    for (std::int64_t size : kSizes) {
      const std::string arg = std::to_string(size);
      const Rates* base = find("BM_Memcpy", arg);
      for (const char* name : {"BM_Memcpy", "BM_Encode", "BM_Decode", "BM_DecodeChunked"}) {
        const Rates* r = find(name, arg);
        if (!r) continue;
        const double bps = r->bytes_per_second / r->samples;
        const double mps = r->items_per_second / r->samples;
        char ratio[32] = "-";  // no memcpy run to compare with (filtered out)
        if (base) {
          std::snprintf(ratio, sizeof ratio, "%.2f",
                        (base->bytes_per_second / base->samples) / bps);
        }
        std::printf("%-8s %-17s %12.2f %10.2f %14.4g %8s\n", size == 0 ? "header" : arg.c_str(),
                    name, 1e9 / mps, bps / 1e9, mps, ratio);
      }
    }
  }

 private:
  struct Rates {
    double bytes_per_second = 0, items_per_second = 0;
    int samples = 0;
    bool from_median = false;
  };
  const Rates* find(const std::string& name, const std::string& arg) const {
    auto it = rates_.find({name, arg});
    return it == rates_.end() ? nullptr : &it->second;
  }
  std::map<std::pair<std::string, std::string>, Rates> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
