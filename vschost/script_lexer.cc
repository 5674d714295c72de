// SPDX-License-Identifier: LGPL-2.1-or-later
// Lexing of script lines: blanks, quotes, comments, hex bytes.
#include "script_lexer.h"

namespace vschost {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
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
  for (std::size_t k = 0; k < text.size(); k += 2) {
    int hi = hex_value(text[k]), lo = hex_value(text[k + 1]);
    if (hi < 0 || lo < 0) return "expected hex digits, found '" + std::string(text) + "'";
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
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
    int hi = hex_value(pair[0]), lo = hex_value(pair[1]);
    if (hi < 0 || lo < 0) {
      return "expected hex digits or XX, found '" + std::string(text) + "'";
    }
    bytes.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
    wild.push_back(false);
  }
  return {};
}

}  // namespace vschost
