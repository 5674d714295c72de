// SPDX-License-Identifier: LGPL-2.1-or-later
// stdin command parsing (see commands.h).
#include "commands.h"

#include <array>
#include <utility>

namespace vscclient {
namespace {

// libcacard's get_id_from_string() uses atoi(): leading digits count, the
// rest is ignored; no digits at all means "no number".
std::optional<std::uint32_t> leading_number(std::string_view text) {
  std::uint64_t value = 0;
  std::size_t digits = 0;
  for (char c : text) {
    if (c < '0' || c > '9') break;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
    if (value > 0xFFFFFFFFu) return std::nullopt;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  return static_cast<std::uint32_t>(value);
}

}  // namespace

Command parse_command(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  Command command;
  if (line.empty()) return command;
  static constexpr std::array<std::pair<std::string_view, Command::Kind>, 7> words = {{
      {"exit", Command::Kind::Exit},
      {"insert", Command::Kind::Insert},
      {"remove", Command::Kind::Remove},
      {"select", Command::Kind::Select},
      {"debug", Command::Kind::Debug},
      {"list", Command::Kind::List},
      {"allow-pin", Command::Kind::AllowPin},
  }};
  command.kind = Command::Kind::Unknown;
  for (const auto& [word, kind] : words) {
    if (!line.starts_with(word)) continue;
    command.kind = kind;
    std::string_view rest = line.substr(word.size());
    if (rest.starts_with(' ')) command.argument = leading_number(rest.substr(1));
    break;
  }
  return command;
}

const char* command_help() {
  return "valid commands:\n"
         "insert [reader_id]\n"
         "remove [reader_id]\n"
         "select reader_id\n"
         "list\n"
         "debug [level]\n"
         "allow-pin\n"
         "exit\n";
}

}  // namespace vscclient
