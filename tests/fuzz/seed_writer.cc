// Writes the fuzzers' seed corpora from the unit tests' byte vectors
// (tests/unit/wire_vectors.h), so that the seeds follow the vectors.
//
//   fuzz_seed_writer OUT_DIR      writes OUT_DIR/TARGET/NAME for every target
//
// tests/fuzz/update-corpus.sh runs it into tests/fuzz/corpus/. Each target reads
// its input in its own layout; the functions below say which.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "wire_vectors.h"

namespace {

using ByteVec = std::vector<std::uint8_t>;
namespace fs = std::filesystem;

void write(const fs::path& dir, const std::string& name, const ByteVec& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

ByteVec concat_all(const std::vector<vscard::test::Vector>& vectors) {
  ByteVec all;
  for (const auto& v : vectors) all.insert(all.end(), v.bytes.begin(), v.bytes.end());
  return all;
}

// decoder_split_fuzzer reads with FuzzedDataProvider: the limit index is the last
// byte, then alternately a chunk size from the end (byte % 65) and that many
// stream bytes from the front. This lays out `stream` cut in chunks of `sizes`
// (cycled) under limit index `limit`.
ByteVec split_seed(const ByteVec& stream, const std::vector<std::uint8_t>& sizes,
                   std::uint8_t limit) {
  ByteVec tail;
  std::size_t pos = 0, i = 0;
  while (pos < stream.size()) {
    const std::size_t n = std::min<std::size_t>(sizes[i++ % sizes.size()], stream.size() - pos);
    tail.push_back(static_cast<std::uint8_t>(n));
    pos += n;
  }
  ByteVec seed = stream;
  seed.insert(seed.end(), tail.rbegin(), tail.rend());
  seed.push_back(limit);
  return seed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  const auto vectors = vscard::test::wire_vectors();

  // Limit indices of decoder_split_fuzzer's kLimits: 1 = header only, 6 = 64 KiB.
  constexpr std::uint8_t kHeaderOnly = 1, k64KiB = 6;
  for (const auto& v : vectors) {
    write(out / "decoder_split_fuzzer", v.name, split_seed(v.bytes, {64}, k64KiB));
    write(out / "decoder_split_fuzzer", v.name + "_bytewise", split_seed(v.bytes, {1}, k64KiB));
    // encode_roundtrip_fuzzer: a limit byte (0x00: 64 KiB), then the stream.
    ByteVec rt{0x00};
    rt.insert(rt.end(), v.bytes.begin(), v.bytes.end());
    write(out / "encode_roundtrip_fuzzer", v.name, rt);
  }
  const ByteVec all = concat_all(vectors);
  write(out / "decoder_split_fuzzer", "all_mixed_splits", split_seed(all, {1, 5, 12, 13, 64}, k64KiB));
  write(out / "decoder_split_fuzzer", "all_header_only_limit", split_seed(all, {7, 30}, kHeaderOnly));
  ByteVec rt_all{0x00};
  rt_all.insert(rt_all.end(), all.begin(), all.end());
  write(out / "encode_roundtrip_fuzzer", "all", rt_all);
  ByteVec rt_small{0xF3};  // limit 12 + 3 * 4 = 24: an Init exactly fits
  rt_small.insert(rt_small.end(), all.begin(), all.end());
  write(out / "encode_roundtrip_fuzzer", "all_limit_24", rt_small);
  return 0;
}
