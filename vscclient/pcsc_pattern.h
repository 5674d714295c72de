// SPDX-License-Identifier: LGPL-2.1-or-later
// Which PC/SC readers `vscclient --pcsc[=PATTERN]` bridges.
#pragma once

#include <string>
#include <string_view>

namespace vscclient {

// An empty pattern selects every reader. A pattern with a glob character (*
// or ?) must match the whole reader name (GLib's g_pattern_match_simple);
// otherwise it selects readers whose name contains it. Case matters: PC/SC
// reader names are exact strings ("Virtual PCD 00 01").
class ReaderPattern {
 public:
  ReaderPattern() = default;
  explicit ReaderPattern(std::string pattern) : pattern_(std::move(pattern)) {}
  bool matches(std::string_view reader) const;
  bool is_glob() const;
  const std::string& text() const { return pattern_; }

 private:
  std::string pattern_;
};

}  // namespace vscclient
