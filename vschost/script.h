// SPDX-License-Identifier: LGPL-2.1-or-later
// The APDU script model: what vschost's script files say, after parsing.
// The format is documented in docs/vschost-scripts.md; parse_script() builds
// this model, ScriptRunner executes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace vschost {

using Millis = std::chrono::milliseconds;

inline constexpr Millis kDefaultStepTimeout{10000};

// The largest APDU a VSCard message carries: QEMU's VSCARD_IN_SIZE (65536,
// vscard::kDefaultMaxMessageSize) minus the 12-byte header.
inline constexpr std::size_t kMaxScriptApdu = 65536 - 12;

// One element of an expected-response pattern.
struct PatternItem {
  enum class Kind {
    Byte,     // this exact byte
    AnyByte,  // XX: any one byte
    Var,      // $name: the bytes stored in `name`, exactly
    Capture,  // $name:N: any N bytes, stored in `name`
  };
  Kind kind = Kind::Byte;
  std::uint8_t value = 0;
  std::string name;
  std::size_t length = 0;  // Capture only
};

// head, then (if `star`) any number of bytes, then tail. In StatusWord mode the
// pattern is two bytes matched against the response's last two bytes only.
struct Pattern {
  enum class Mode { Full, StatusWord };
  Mode mode = Mode::Full;
  std::vector<PatternItem> head;
  bool star = false;
  std::string star_capture;  // `$name:*`: the bytes the star matched are stored
  std::vector<PatternItem> tail;
};

// A command APDU to send: literal bytes and variable references, in order.
struct CommandPart {
  std::vector<std::uint8_t> bytes;  // used when `var` is empty
  std::string var;
};

struct Step {
  // PowerOff/PowerOn/Reset send the CardControl extension (docs/protocol.md);
  // PowerOn and Reset wait for the card's new ATR.
  enum class Kind { WaitCard, Send, Expect, WaitRemoval, Flush, Sleep, Set, PowerOff, PowerOn, Reset };
  Kind kind = Kind::Send;
  int line = 0;
  std::string text;                    // the source line, trimmed, without comment
  std::optional<std::string> reader;   // WaitCard / WaitRemoval / power steps: reader name
  std::vector<CommandPart> command;    // Send
  std::optional<Pattern> expect;       // Send (optional), Expect
  Millis timeout = kDefaultStepTimeout;
  Millis duration{0};                  // Sleep
  std::string var;                     // Set: variable name
  std::vector<std::uint8_t> value;     // Set: bytes
};

struct Script {
  std::vector<Step> steps;
};

struct ScriptError {
  int line = 0;
  std::string message;  // what was found and what was expected
};

using ParseResult = std::variant<Script, ScriptError>;

// Parses a whole script. Pure: no I/O, no global state; the fuzz target calls it.
ParseResult parse_script(std::string_view text);

// A duration as scripts and --timeout write it: "5" or "5s" (seconds, fractions
// allowed), "300ms"; at most one day. False if `text` is none of these.
bool parse_duration_text(std::string_view text, Millis& out);

// "FILE:LINE: message", the form compilers use, for the command line.
std::string format_error(std::string_view file, const ScriptError& error);

}  // namespace vschost
