// SPDX-License-Identifier: LGPL-2.1-or-later
// Fuzz target: command APDU parsing (ISO 7816-4 section 5), status words, hex
// helpers, and the PIN redaction of log lines.
//
// A command APDU comes from the host (a guest, possibly hostile) and a response
// from the card; both are arbitrary bytes here. Checked:
//  - a parsed command, written back in the layout of its case, is the input;
//  - the log line of a PIN-bearing command (VERIFY, CHANGE REFERENCE DATA, RESET
//    RETRY COUNTER) never shows more bytes than header, Lc and Le: the PIN is gone;
//  - from_hex(to_hex(x)) == x, and from_hex of the input as text never crashes.
#include <string_view>

#include "fuzz_check.h"
#include "vscard/apdu.h"

using namespace vscard;

namespace {

void put16(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

// The wire form of `c` per ISO 7816-4 5.1 (Le 256 / 65536 travel as 00 / 0000).
std::vector<std::uint8_t> rebuild(const CommandApdu& c) {
  std::vector<std::uint8_t> out{c.cla, c.ins, c.p1, c.p2};
  const bool extended = c.kind == ApduCase::Case2Extended || c.kind == ApduCase::Case3Extended ||
                        c.kind == ApduCase::Case4Extended;
  const bool has_lc = c.kind == ApduCase::Case3Short || c.kind == ApduCase::Case4Short ||
                      c.kind == ApduCase::Case3Extended || c.kind == ApduCase::Case4Extended;
  const bool has_le = c.kind == ApduCase::Case2Short || c.kind == ApduCase::Case4Short ||
                      c.kind == ApduCase::Case2Extended || c.kind == ApduCase::Case4Extended;
  if (extended) out.push_back(0);
  if (has_lc) {
    if (extended) put16(out, c.nc); else out.push_back(static_cast<std::uint8_t>(c.nc));
    out.insert(out.end(), c.data.begin(), c.data.end());
  }
  if (has_le) {
    if (extended) put16(out, c.ne == 65536 ? 0 : c.ne);
    else out.push_back(static_cast<std::uint8_t>(c.ne == 256 ? 0 : c.ne));
  }
  return out;
}

std::size_t count_hex_bytes(std::string_view log) {
  // Bytes are written as two hex digits separated by spaces; the redaction
  // marker "<N bytes redacted>" holds a decimal count, never a pair of hex digits
  // standing alone, so only stand-alone two-character tokens are counted.
  std::size_t n = 0, start = 0;
  while (start < log.size()) {
    std::size_t end = log.find(' ', start);
    if (end == std::string_view::npos) end = log.size();
    const std::string_view token = log.substr(start, end - start);
    if (token.size() == 2 && std::isxdigit(static_cast<unsigned char>(token[0])) &&
        std::isxdigit(static_cast<unsigned char>(token[1]))) {
      ++n;
    }
    start = end + 1;
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);

  if (const auto c = parse_command_apdu(bytes)) {
    FUZZ_CHECK(size >= 4);
    FUZZ_CHECK(c->nc == c->data.size());
    FUZZ_CHECK(c->data.empty() || (c->data.data() >= data && c->data.data() + c->data.size() <= data + size));
    FUZZ_CHECK(rebuild(*c) == std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
    FUZZ_CHECK(!to_string(c->kind).empty());
  }

  const std::string log = format_command_for_log(bytes);
  if (size >= 4 && carries_pin(data[1])) {
    // Header (4) + extended Lc (3) + extended Le (2) at most; and a short command
    // with no data field (nothing to hide) may show its 5 bytes.
    FUZZ_CHECK(count_hex_bytes(log) <= 9);
    if (size > 9) FUZZ_CHECK(log.find("redacted") != std::string::npos);
  } else {
    FUZZ_CHECK(log == format_command_for_log(bytes, true));
  }

  if (const auto sw = status_word(bytes)) {
    FUZZ_CHECK(size >= 2 && *sw == ((data[size - 2] << 8) | data[size - 1]));
  } else {
    FUZZ_CHECK(size < 2);
  }

  const std::string hex = to_hex(bytes);
  FUZZ_CHECK(hex.size() == 2 * size);
  const auto back = from_hex(hex);
  FUZZ_CHECK(back && *back == std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
  (void)from_hex(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
