// SPDX-License-Identifier: LGPL-2.1-or-later
// Command APDU cases (ISO/IEC 7816-4:2020 section 5.1), status words and log redaction.
#include "vscard/apdu.h"

namespace vscard {
namespace {

constexpr char kHexDigits[] = "0123456789ABCDEF";

// ISO 7816-4 5.1: a short Le of 00 means 256, an extended Le of 0000 means 65536.
std::uint32_t short_ne(std::uint8_t le) { return le == 0 ? 256u : le; }
std::uint32_t extended_ne(const std::uint8_t* p) {
  const std::uint32_t v = (std::uint32_t{p[0]} << 8) | p[1];
  return v == 0 ? 65536u : v;
}

void append_spaced_hex(std::string& out, std::span<const std::uint8_t> bytes) {
  for (std::uint8_t b : bytes) {
    if (!out.empty()) out += ' ';
    out += kHexDigits[b >> 4];
    out += kHexDigits[b & 0x0F];
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view to_string(ApduCase c) {
  switch (c) {
    case ApduCase::Case1: return "case 1";
    case ApduCase::Case2Short: return "case 2S";
    case ApduCase::Case3Short: return "case 3S";
    case ApduCase::Case4Short: return "case 4S";
    case ApduCase::Case2Extended: return "case 2E";
    case ApduCase::Case3Extended: return "case 3E";
    case ApduCase::Case4Extended: return "case 4E";
  }
  return "unknown case";
}

// The body after CLA INS P1 P2 decides the case (ISO 7816-4 5.1, Table 1):
//   empty                      case 1
//   Le (1)                     case 2S
//   Lc (1, not 00) data        case 3S
//   Lc (1, not 00) data Le(1)  case 4S
//   00 Le (2)                  case 2E
//   00 Lc (2, not 0000) data   case 3E
//   00 Lc (2, not 0000) data Le (2)  case 4E
std::optional<CommandApdu> parse_command_apdu(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 4) return std::nullopt;
  CommandApdu apdu;
  apdu.cla = bytes[0];
  apdu.ins = bytes[1];
  apdu.p1 = bytes[2];
  apdu.p2 = bytes[3];
  const std::span<const std::uint8_t> body = bytes.subspan(4);
  if (body.empty()) {
    apdu.kind = ApduCase::Case1;
    return apdu;
  }
  if (body.size() == 1) {
    apdu.kind = ApduCase::Case2Short;
    apdu.ne = short_ne(body[0]);
    return apdu;
  }
  if (body[0] != 0) {
    const std::size_t nc = body[0];
    if (body.size() == 1 + nc) {
      apdu.kind = ApduCase::Case3Short;
    } else if (body.size() == 2 + nc) {
      apdu.kind = ApduCase::Case4Short;
      apdu.ne = short_ne(body.back());
    } else {
      return std::nullopt;
    }
    apdu.nc = static_cast<std::uint32_t>(nc);
    apdu.data = body.subspan(1, nc);
    return apdu;
  }
  // body[0] == 00 with more bytes: the extended forms.
  if (body.size() < 3) return std::nullopt;
  if (body.size() == 3) {
    apdu.kind = ApduCase::Case2Extended;
    apdu.ne = extended_ne(&body[1]);
    return apdu;
  }
  const std::size_t nc = (std::size_t{body[1]} << 8) | body[2];
  if (nc == 0) return std::nullopt;
  if (body.size() == 3 + nc) {
    apdu.kind = ApduCase::Case3Extended;
  } else if (body.size() == 5 + nc) {
    apdu.kind = ApduCase::Case4Extended;
    apdu.ne = extended_ne(&body[3 + nc]);
  } else {
    return std::nullopt;
  }
  apdu.nc = static_cast<std::uint32_t>(nc);
  apdu.data = body.subspan(3, nc);
  return apdu;
}

std::optional<std::uint16_t> status_word(std::span<const std::uint8_t> response) {
  if (response.size() < 2) return std::nullopt;
  const std::size_t n = response.size();
  return static_cast<std::uint16_t>((response[n - 2] << 8) | response[n - 1]);
}

std::string format_command_for_log(std::span<const std::uint8_t> command, bool unredacted) {
  std::string out;
  if (unredacted || command.size() < 4 || !carries_pin(command[1])) {
    append_spaced_hex(out, command);
    return out;
  }
  const auto parsed = parse_command_apdu(command);
  if (!parsed) {
    // Malformed but PIN-bearing: it may still hold a PIN, so only the header shows.
    append_spaced_hex(out, command.first(4));
    out += " <" + std::to_string(command.size() - 4) + " bytes redacted>";
    return out;
  }
  if (parsed->nc == 0) {  // e.g. VERIFY case 1/2: asks for the retry counter, no PIN
    append_spaced_hex(out, command);
    return out;
  }
  // Header and Lc stay visible, the data field goes, Le stays.
  const std::size_t data_offset =
      static_cast<std::size_t>(parsed->data.data() - command.data());
  append_spaced_hex(out, command.first(data_offset));
  out += " <" + std::to_string(parsed->nc) + " bytes redacted>";
  append_spaced_hex(out, command.subspan(data_offset + parsed->nc));
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out += kHexDigits[b >> 4];
    out += kHexDigits[b & 0x0F];
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text) {
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 2);
  int high = -1;
  for (char c : text) {
    if (c == ' ' || c == ':' || c == '\t') continue;
    const int v = hex_value(c);
    if (v < 0) return std::nullopt;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>((high << 4) | v));
      high = -1;
    }
  }
  if (high >= 0) return std::nullopt;
  return out;
}

}  // namespace vscard
