// SPDX-License-Identifier: LGPL-2.1-or-later
// Fuzz target: vschost's APDU script parser and pattern matcher.
//
// A script is a file the user hands to vschost; a typo or garbage must give one
// ScriptError with a line number, never a crash. The input is the script text up
// to the first NUL; the bytes after it play a card's response, matched against
// every pattern the script holds while variables are set and captured the way
// the runner does, and used to expand every command.
#include <cstring>
#include <string_view>

#include "fuzz_check.h"
#include "pattern_match.h"
#include "script.h"

using namespace vschost;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  const char* nul = static_cast<const char*>(std::memchr(text, 0, size));
  const std::size_t text_size = nul ? static_cast<std::size_t>(nul - text) : size;
  const std::span<const std::uint8_t> response =
      nul ? std::span<const std::uint8_t>(data + text_size + 1, size - text_size - 1)
          : std::span<const std::uint8_t>();

  const ParseResult result = parse_script(std::string_view(text, text_size));
  if (const auto* error = std::get_if<ScriptError>(&result)) {
    FUZZ_CHECK(error->line >= 0);
    FUZZ_CHECK(!error->message.empty());
    FUZZ_CHECK(!format_error("fuzz.script", *error).empty());
    return 0;
  }
  const Script& script = std::get<Script>(result);
  Variables vars;
  int last_line = 0;
  for (const Step& step : script.steps) {
    FUZZ_CHECK(step.line > last_line);  // steps come in line order, one per line
    last_line = step.line;
    if (step.kind == Step::Kind::Set) vars[step.var] = step.value;
    if (step.kind == Step::Kind::Send) {
      std::string missing;
      (void)build_command(step.command, vars, &missing);
    }
    if (step.expect) {
      (void)to_string(*step.expect);
      MatchResult m = match(*step.expect, response, vars);
      if (m.ok) {
        for (auto& [name, value] : m.captures) vars[name] = std::move(value);
      } else {
        FUZZ_CHECK(!m.why.empty());
      }
    }
  }
  return 0;
}
