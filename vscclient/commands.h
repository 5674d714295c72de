// SPDX-License-Identifier: LGPL-2.1-or-later
// The stdin command line of libcacard's vscclient: `insert [id]`, `remove [id]`,
// `select id`, `list`, `debug [level]`, `exit`, and ours: `allow-pin` (--pin-guard).
// Parsing only; the App runs them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vscclient {

struct Command {
  enum class Kind { Empty, Insert, Remove, Select, List, Debug, Exit, AllowPin, Unknown };
  Kind kind = Kind::Empty;
  // The number after the command, if one was given and readable. The anchor
  // (get_id_from_string) falls back to the default reader when it is not.
  std::optional<std::uint32_t> argument;
};

// Matches like the anchor: the command word is a prefix of the line
// ("exit", "exitnow" both exit), the argument follows one space.
Command parse_command(std::string_view line);

// The help the anchor prints for an unknown command.
const char* command_help();

}  // namespace vscclient
