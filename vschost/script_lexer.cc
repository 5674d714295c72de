// SPDX-License-Identifier: LGPL-2.1-or-later
// Lexing of script lines: blanks, quotes, comments, hex bytes.
#include "script_lexer.h"

#include <optional>

#include "vscard/apdu.h"

namespace vschost {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// vscard::from_hex skips the separators a log line carries (blanks, ':'); a
// script token is digits only, so a separator inside one is an error here.
std::optional<std::vector<std::uint8_t>> digits_only_hex(std::string_view text) {
  if (text.find_first_of(" :\t") != std::string_view::npos) return std::nullopt;
  return vscard::from_hex(text);
}

}  // namespace

std::string tokenize(std::string_view line, std::vector<Token>& tokens, std::string& source) {
  std::size_t i = 0;
  std::size_t end_of_code = 0;
  while (i < line.size()) {
    if (is_blank(line[i])) {
      ++i;
      continue;
    }
    if (line[i] == '#') break;
    Token t;
    if (line[i] == '"') {
      t.quoted = true;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < line.size() && (line[i] == '"' || line[i] == '\\')) c = line[i++];
        t.text.push_back(c);
      }
      if (!closed) return "expected a closing '\"'";
    } else {
      while (i < line.size() && !is_blank(line[i]) && line[i] != '#') {
        if (line[i] == '"') return "expected a blank before '\"'";
        t.text.push_back(line[i++]);
      }
    }
    for (char c : t.text) {
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
        return "control characters are not allowed in a script";
      }
    }
    end_of_code = i;
    tokens.push_back(std::move(t));
  }
  std::size_t start = 0;
  while (start < end_of_code && is_blank(line[start])) ++start;
  source.assign(line.substr(start, end_of_code - start));
  return {};
}

std::string hex_token(std::string_view text, std::vector<std::uint8_t>& out) {
  if (text.size() % 2 != 0) {
    return "expected an even number of hex digits, found '" + std::string(text) + "'";
  }
  const auto bytes = digits_only_hex(text);
  if (!bytes) return "expected hex digits, found '" + std::string(text) + "'";
  out.insert(out.end(), bytes->begin(), bytes->end());
  return {};
}

std::string pattern_token(std::string_view text, std::vector<std::uint8_t>& bytes,
                          std::vector<bool>& wild) {
  if (text.size() % 2 != 0) {
    return "expected bytes as pairs of hex digits or XX, found '" + std::string(text) + "'";
  }
  for (std::size_t k = 0; k < text.size(); k += 2) {
    std::string_view pair = text.substr(k, 2);
    if (pair == "XX" || pair == "xx" || pair == "??") {
      bytes.push_back(0);
      wild.push_back(true);
      continue;
    }
    const auto byte = digits_only_hex(pair);
    if (!byte || byte->size() != 1) {
      return "expected hex digits or XX, found '" + std::string(text) + "'";
    }
    bytes.push_back(byte->front());
    wild.push_back(false);
  }
  return {};
}

}  // namespace vschost
