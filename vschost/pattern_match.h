// SPDX-License-Identifier: LGPL-2.1-or-later
// Matching a card's response against a script pattern, and building commands
// from literal bytes and variables.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "script.h"

namespace vschost {

using Variables = std::map<std::string, std::vector<std::uint8_t>, std::less<>>;

struct MatchResult {
  bool ok = false;
  std::string why;       // when !ok: what differed, for the step's report line
  Variables captures;    // when ok: $name:N and $name:* values
};

MatchResult match(const Pattern& pattern, std::span<const std::uint8_t> response,
                  const Variables& vars);

// The pattern as the script would write it ("6F XX * 9000").
std::string to_string(const Pattern& pattern);

// The command's bytes with every $name replaced by its value. The parser has
// checked that each variable is stored before use; a missing one expands to
// nothing and `missing` names it.
std::vector<std::uint8_t> build_command(const std::vector<CommandPart>& parts,
                                        const Variables& vars, std::string* missing = nullptr);

}  // namespace vschost
