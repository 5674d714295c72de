// SPDX-License-Identifier: LGPL-2.1-or-later
// Building one JSON object on one line (for --report json), without a JSON library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vschost {

// JSON string escaping (RFC 8259 section 7); bytes that are not valid UTF-8 are
// replaced by U+FFFD so the output always parses.
std::string json_quote(std::string_view text);

class JsonLine {
 public:
  JsonLine& str(std::string_view key, std::string_view value);
  JsonLine& num(std::string_view key, std::int64_t value);
  JsonLine& boolean(std::string_view key, bool value);
  // A value already in JSON form (a number with a fraction, an array...).
  JsonLine& raw(std::string_view key, std::string_view json);
  // "{...}" without a newline.
  std::string done() const { return text_ + "}"; }

 private:
  void key(std::string_view k);
  std::string text_ = "{";
};

// XML 1.0 text/attribute escaping for the JUnit report; characters XML 1.0
// forbids (most C0 controls, invalid UTF-8) become U+FFFD.
std::string xml_escape(std::string_view text);

}  // namespace vschost
