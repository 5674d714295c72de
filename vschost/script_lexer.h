// SPDX-License-Identifier: LGPL-2.1-or-later
// Tokens of one script line, and hex helpers shared by the parser.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vschost {

struct Token {
  std::string text;
  bool quoted = false;  // "a reader name" (quotes removed, \" and \\ unescaped)
};

// Splits `line` at blanks; `#` outside quotes starts a comment. `source` receives
// the line without comment and surrounding blanks. Returns an error message or "".
std::string tokenize(std::string_view line, std::vector<Token>& tokens, std::string& source);

// Appends the bytes of a hex token ("00A4", "3F00") to `out`. Error message or "".
std::string hex_token(std::string_view text, std::vector<std::uint8_t>& out);

// Like hex_token, but a byte may be written XX (or xx, ??) for "any byte":
// `wild[k]` tells which. Error message or "".
std::string pattern_token(std::string_view text, std::vector<std::uint8_t>& bytes,
                          std::vector<bool>& wild);

}  // namespace vschost
