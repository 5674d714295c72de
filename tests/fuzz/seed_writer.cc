// SPDX-License-Identifier: LGPL-2.1-or-later
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

#include "vscard/vpcd_frame.h"
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
// (cycled) under limit index `limit` (-1: no limit byte).
ByteVec split_seed(const ByteVec& stream, const std::vector<std::uint8_t>& sizes, int limit) {
  ByteVec tail;
  std::size_t pos = 0, i = 0;
  while (pos < stream.size()) {
    const std::size_t n = std::min<std::size_t>(sizes[i++ % sizes.size()], stream.size() - pos);
    tail.push_back(static_cast<std::uint8_t>(n));
    pos += n;
  }
  ByteVec seed = stream;
  seed.insert(seed.end(), tail.rbegin(), tail.rend());
  if (limit >= 0) seed.push_back(static_cast<std::uint8_t>(limit));
  return seed;
}

// vicc_card_fuzzer reads with FuzzedDataProvider too: its choices (which limit,
// then per step an operation and a length) from the end, the bytes from the
// front. A step is {0, bytes} (from the card), {2, apdu} (a command) or {3, {}}
// (a timeout).
struct CardStep {
  std::uint8_t op;
  ByteVec bytes;
};
ByteVec vicc_card_seed(const std::vector<CardStep>& steps) {
  ByteVec front, choices{1};  // ConsumeBool: the format's own limit
  for (const CardStep& step : steps) {
    choices.push_back(step.op);
    if (step.op != 3) choices.push_back(static_cast<std::uint8_t>(step.bytes.size()));
    front.insert(front.end(), step.bytes.begin(), step.bytes.end());
  }
  front.insert(front.end(), choices.rbegin(), choices.rend());
  return front;
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
  // session_pair_fuzzer reads a schedule of operations; the vectors' bytes make
  // varied schedules whose raw injections carry real messages.
  write(out / "session_pair_fuzzer", "all_vectors", all);
  for (const char* name : {"init_qemu", "apdu_select", "reader_add_named"}) {
    for (const auto& v : vectors) {
      if (v.name == name) write(out / "session_pair_fuzzer", v.name, v.bytes);
    }
  }
  write(out / "decoder_split_fuzzer", "all_mixed_splits", split_seed(all, {1, 5, 12, 13, 64}, k64KiB));
  write(out / "decoder_split_fuzzer", "all_header_only_limit", split_seed(all, {7, 30}, kHeaderOnly));
  ByteVec rt_all{0x00};
  rt_all.insert(rt_all.end(), all.begin(), all.end());
  write(out / "encode_roundtrip_fuzzer", "all", rt_all);
  ByteVec rt_small{0xF3};  // limit 12 + 3 * 4 = 24: an Init exactly fits
  rt_small.insert(rt_small.end(), all.begin(), all.end());
  write(out / "encode_roundtrip_fuzzer", "all_limit_24", rt_small);

  // ATRs: the vectors' ATR and hand-built ones covering the structure (TCK
  // computed here): minimal T=0, inverse convention, T=0+T=1 with TA1..TC1.
  const auto with_tck = [](ByteVec atr) {
    std::uint8_t x = 0;
    for (std::size_t i = 1; i < atr.size(); ++i) x ^= atr[i];
    atr.push_back(x);
    return atr;
  };
  write(out / "atr_fuzzer", "vicc", vscard::test::atr_bytes());
  write(out / "atr_fuzzer", "minimal_t0", {0x3B, 0x00});
  write(out / "atr_fuzzer", "inverse_t0_hist2", {0x3F, 0x02, 0x14, 0x50});
  write(out / "atr_fuzzer", "t0_t1_interfaces", with_tck({0x3B, 0xF2, 0x11, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x80, 0x31}));
  write(out / "atr_fuzzer", "t15_global", with_tck({0x3B, 0x80, 0x80, 0x1F, 0xC7, 0x59}));

  // APDUs: every ISO 7816-4 case, PIN commands, responses.
  write(out / "apdu_fuzzer", "select", vscard::test::apdu_bytes());
  write(out / "apdu_fuzzer", "case1", {0x00, 0xA4, 0x04, 0x00});
  write(out / "apdu_fuzzer", "case2_short", {0x00, 0xB0, 0x00, 0x00, 0x00});
  write(out / "apdu_fuzzer", "case4_short", {0x00, 0xA4, 0x04, 0x00, 0x02, 0x3F, 0x00, 0x00});
  write(out / "apdu_fuzzer", "case2_extended", {0x00, 0xB0, 0x00, 0x00, 0x00, 0x01, 0x00});
  write(out / "apdu_fuzzer", "case3_extended", {0x00, 0xD6, 0x00, 0x00, 0x00, 0x00, 0x03, 0xAA, 0xBB, 0xCC});
  write(out / "apdu_fuzzer", "case4_extended", {0x00, 0xD6, 0x00, 0x00, 0x00, 0x00, 0x03, 0xAA, 0xBB, 0xCC, 0x00, 0x00});
  write(out / "apdu_fuzzer", "verify_pin", {0x00, 0x20, 0x00, 0x80, 0x08, 0x31, 0x32, 0x33, 0x34, 0xFF, 0xFF, 0xFF, 0xFF});
  write(out / "apdu_fuzzer", "verify_status", {0x00, 0x20, 0x00, 0x80});
  write(out / "apdu_fuzzer", "change_reference_data", {0x00, 0x24, 0x00, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34});
  write(out / "apdu_fuzzer", "reset_retry_counter_extended", {0x00, 0x2C, 0x00, 0x80, 0x00, 0x00, 0x02, 0x31, 0x32});
  write(out / "apdu_fuzzer", "response_ok", {0x6F, 0x00, 0x90, 0x00});
  write(out / "apdu_fuzzer", "response_tries_left", {0x63, 0xC2});

  // T0Presenter: options, ATR length + ATR, then events (kind, length, bytes).
  {
    const ByteVec vicc = {0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B};
    ByteVec translate = {0x00, static_cast<std::uint8_t>(vicc.size())};
    translate.insert(translate.end(), vicc.begin(), vicc.end());
    for (const ByteVec& event : std::vector<ByteVec>{
             {0, 7, 0x00, 0xA4, 0x04, 0x00, 0x02, 0x3F, 0x00},  // case-3 form
             {1, 2, 0x67, 0x00},                                // 6700: retry as case 3
             {1, 4, 0x6F, 0x01, 0x61, 0x10},                    // the card's own 61xx
             {1, 3, 0xAA, 0x90, 0x00},
             {0, 5, 0x00, 0xC0, 0x00, 0x00, 0x01},              // GET RESPONSE from the guest
             {0, 5, 0x00, 0xCA, 0x01, 0x02, 0x00},              // header + P3
             {1, 2, 0x6C, 0x0A},                                // wrong Le
             {2, 0}}) {
      translate.insert(translate.end(), event.begin(), event.end());
    }
    write(out / "t0_presenter_fuzzer", "translate_vicc", translate);
    // A T=0 card (no TD1), shaping: a 54-byte response in a checked round trip.
    ByteVec shape = {0x00, 0x02, 0x3B, 0x00, 3, 60, 5, 0x00, 0xB0, 0x00, 0x00, 0x34};
    for (int i = 0; i < 52; ++i) shape.push_back(static_cast<std::uint8_t>(i));
    shape.push_back(0x90);
    shape.push_back(0x00);
    write(out / "t0_presenter_fuzzer", "shape_54", shape);
    // A large response made of a repeated pattern.
    write(out / "t0_presenter_fuzzer", "large",
          {0x00, 0x02, 0x3B, 0x00, 0, 5, 0x00, 0xB0, 0x00, 0x00, 0x00, 1, 2, 0xFF, 0x90});
  }

  // vpcd frames: each control, an APDU, everything in one stream.
  // vpcd_frame_fuzzer's limit index 0 is the format's own limit.
  using vscard::vpcd::Control;
  ByteVec vpcd_all;
  for (Control c : {Control::PowerOff, Control::PowerOn, Control::Reset, Control::GetAtr}) {
    ByteVec f;
    vscard::vpcd::encode_control(c, f);
    write(out / "vpcd_frame_fuzzer", "control_" + std::to_string(static_cast<int>(c)), split_seed(f, {64}, 0));
    vpcd_all.insert(vpcd_all.end(), f.begin(), f.end());
  }
  ByteVec apdu_frame;
  if (vscard::vpcd::encode_frame(vscard::test::apdu_bytes(), apdu_frame) ==
      vscard::vpcd::EncodeError::None) {
    write(out / "vpcd_frame_fuzzer", "apdu", split_seed(apdu_frame, {64}, 0));
    write(out / "vpcd_frame_fuzzer", "apdu_over_limit", split_seed(apdu_frame, {64}, 1));
    vpcd_all.insert(vpcd_all.end(), apdu_frame.begin(), apdu_frame.end());
  }
  write(out / "vpcd_frame_fuzzer", "all_bytewise", split_seed(vpcd_all, {1}, 0));
  write(out / "vpcd_frame_fuzzer", "all_mixed", split_seed(vpcd_all, {3, 64, 2}, 3));

  // A vicc card: its ATR (vsmartcard's iso7816), a command, its answer, and faults.
  const ByteVec atr_frame{0x00, 0x0B, 0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B};
  const ByteVec select{0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00};
  const ByteVec ok{0x00, 0x02, 0x90, 0x00};
  write(out / "vicc_card_fuzzer", "select", vicc_card_seed({{0, atr_frame}, {2, select}, {0, ok}}));
  write(out / "vicc_card_fuzzer", "two_answers",
        vicc_card_seed({{0, atr_frame}, {2, select}, {0, {0x00, 0x02, 0x90, 0x00, 0x00, 0x02, 0x6A, 0x82}}}));
  write(out / "vicc_card_fuzzer", "empty_frame", vicc_card_seed({{0, atr_frame}, {2, select}, {0, {0x00, 0x00}}}));
  write(out / "vicc_card_fuzzer", "max_length", vicc_card_seed({{0, atr_frame}, {2, select}, {0, {0xFF, 0xFF}}, {3, {}}}));
  write(out / "vicc_card_fuzzer", "unsolicited", vicc_card_seed({{0, atr_frame}, {0, ok}}));
  write(out / "vicc_card_fuzzer", "no_atr", vicc_card_seed({{2, select}, {3, {}}}));

  // Scripts (docs/vschost-scripts.md): text, a NUL, then a card response.
  const auto script = [&](const std::string& name, const std::string& text, const ByteVec& response) {
    ByteVec seed(text.begin(), text.end());
    seed.push_back(0);
    seed.insert(seed.end(), response.begin(), response.end());
    write(out / "script_parser_fuzzer", name, seed);
  };
  script("every_keyword",
         "wait-card\nsend 00A40400 07 A0000000031010 expect 9000\nexpect * 9000\nflush\n"
         "sleep 250ms\nset $k 0102\nwait-removal\n",
         {0x90, 0x00});
  script("variables",
         "wait-card \"Virtual PCD 00 00\" timeout=30\nsend 00CA0000 expect $serial:4 XX * 9000\n"
         "send 00B0 $serial expect $rest:* 9000 timeout=2s\n# comment\nwait-removal R1\n",
         {0x01, 0x02, 0x03, 0x04, 0xAA, 0xBB, 0x90, 0x00});
  script("status_word_only", "send 00200080 08 31323334FFFFFFFF expect 63C2\r\n", {0x63, 0xC2});
  return 0;
}
