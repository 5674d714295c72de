// SPDX-License-Identifier: LGPL-2.1-or-later
// parse_script(): the line-oriented APDU script format of docs/vschost-scripts.md.
//
// Every line is independent: a keyword, its arguments, optional `timeout=D`, and
// an optional `# comment`. The parser checks everything it can before a client
// connects (hex syntax, variables used only after they are stored, durations),
// so a CI job learns about a typo from the exit status, not from a timeout.
#include <cctype>
#include <charconv>
#include <set>
#include <string>
#include <string_view>

#include "script.h"
#include "script_lexer.h"
#include "vscard/decimal.h"

namespace vschost {
namespace {

// Longest step timeout or sleep accepted: one day, far beyond any CI job.
constexpr long long kMaxDurationMs = 24LL * 3600 * 1000;

class LineParser {
 public:
  LineParser(int line, std::set<std::string>& vars, Millis& default_timeout)
      : line_(line), vars_(vars), default_timeout_(default_timeout) {}

  // Returns an error message, or empty on success (then `step` is filled when
  // the line held a step, `has_step` tells).
  std::string parse(const std::vector<Token>& tokens, Step& step, bool& has_step);

 private:
  std::string parse_duration(const Token& t, Millis& out);
  std::string parse_reader_and_timeout(const std::vector<Token>& tokens, std::size_t from,
                                       Step& step);
  std::string parse_command(const std::vector<Token>& tokens, std::size_t& i, Step& step);
  std::string parse_pattern(const std::vector<Token>& tokens, std::size_t& i, Pattern& p);
  std::string parse_timeout_option(const std::vector<Token>& tokens, std::size_t& i,
                                   Step& step);
  std::string check_var_name(std::string_view name);

  int line_;
  std::set<std::string>& vars_;
  Millis& default_timeout_;
  std::set<std::string> captured_here_;
};

std::string LineParser::parse_duration(const Token& t, Millis& out) {
  if (!parse_duration_text(t.text, out)) {
    return "expected a duration such as 5, 2.5s or 300ms (at most one day), found '" +
           t.text + "'";
  }
  return {};
}

}  // namespace

bool parse_duration_text(std::string_view s, Millis& out) {
  long long scale = 1000;
  if (s.ends_with("ms")) {
    scale = 1;
    s.remove_suffix(2);
  } else if (s.ends_with("s")) {
    s.remove_suffix(1);
  }
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || value < 0 ||
      value * static_cast<double>(scale) > static_cast<double>(kMaxDurationMs)) {
    return false;
  }
  out = Millis(static_cast<long long>(value * static_cast<double>(scale) + 0.5));
  return true;
}

namespace {

std::string LineParser::check_var_name(std::string_view name) {
  if (name.empty()) return "expected a variable name after '$'";
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return "a variable name holds letters, digits and '_' only, found '" +
             std::string(name) + "'";
    }
  }
  return {};
}

std::string LineParser::parse_timeout_option(const std::vector<Token>& tokens, std::size_t& i,
                                             Step& step) {
  const Token& t = tokens[i];
  if (!t.quoted && t.text.starts_with("timeout=")) {
    Token value{t.text.substr(8), false};
    if (std::string e = parse_duration(value, step.timeout); !e.empty()) return e;
    ++i;
  }
  return {};
}

// A reader name (optional) then an optional timeout=D, then the end of the line.
std::string LineParser::parse_reader_and_timeout(const std::vector<Token>& tokens,
                                                 std::size_t i, Step& step) {
  if (i < tokens.size() && (tokens[i].quoted || !tokens[i].text.starts_with("timeout="))) {
    step.reader = tokens[i].text;
    ++i;
  }
  if (i < tokens.size()) {
    if (std::string e = parse_timeout_option(tokens, i, step); !e.empty()) return e;
  }
  if (i < tokens.size()) {
    return "expected the end of the line or timeout=D, found '" + tokens[i].text + "'";
  }
  return {};
}

std::string LineParser::parse_command(const std::vector<Token>& tokens, std::size_t& i,
                                      Step& step) {
  for (; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.quoted) return "expected hex bytes or $variable, found a quoted string";
    if (t.text == "expect" || t.text.starts_with("timeout=")) break;
    if (t.text.starts_with("$")) {
      std::string name = t.text.substr(1);
      if (std::string e = check_var_name(name); !e.empty()) return e;
      if (!vars_.contains(name)) {
        return "variable $" + name + " is used before a step stores it";
      }
      step.command.push_back({{}, name});
      continue;
    }
    std::vector<std::uint8_t> bytes;
    if (std::string e = hex_token(t.text, bytes); !e.empty()) return e;
    step.command.push_back({std::move(bytes), {}});
  }
  if (step.command.empty()) return "expected the command APDU in hex after 'send'";
  std::size_t literal = 0;
  for (const auto& part : step.command) literal += part.bytes.size();
  if (literal > kMaxScriptApdu) {
    return "the command APDU is " + std::to_string(literal) + " bytes; a VSCard message carries "
           "at most " + std::to_string(kMaxScriptApdu) + " (65536 with its 12-byte header, "
           "QEMU's limit)";
  }
  return {};
}

std::string LineParser::parse_pattern(const std::vector<Token>& tokens, std::size_t& i,
                                      Pattern& p) {
  bool only = false;
  std::size_t items = 0;
  if (i < tokens.size() && !tokens[i].quoted && tokens[i].text == "only") {
    only = true;
    ++i;
  }
  for (; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.quoted) return "expected a response pattern, found a quoted string";
    if (t.text.starts_with("timeout=")) break;
    auto& side = p.star ? p.tail : p.head;
    if (t.text == "*") {
      if (p.star) return "a pattern may hold one '*' only";
      p.star = true;
      continue;
    }
    if (t.text.starts_with("$")) {
      std::string_view body = std::string_view(t.text).substr(1);
      std::size_t colon = body.find(':');
      std::string name(body.substr(0, colon));
      if (std::string e = check_var_name(name); !e.empty()) return e;
      if (colon == std::string_view::npos) {
        if (!vars_.contains(name) || captured_here_.contains(name)) {
          return "variable $" + name + " is used before a step stores it";
        }
        side.push_back({PatternItem::Kind::Var, 0, name, 0});
        ++items;
        continue;
      }
      std::string_view len = body.substr(colon + 1);
      captured_here_.insert(name);
      if (len == "*") {
        if (p.star) return "a pattern may hold one '*' (or $name:*) only";
        p.star = true;
        p.star_capture = name;
        continue;
      }
      const auto n = vscard::parse_decimal<std::size_t>(len, 1, 65536);
      if (!n) {
        return "expected $" + name + ":N (N bytes, 1 to 65536) or $" + name + ":*, found '" +
               t.text + "'";
      }
      side.push_back({PatternItem::Kind::Capture, 0, name, *n});
      items += 2;  // a capture never makes a status-word-only pattern
      continue;
    }
    std::vector<std::uint8_t> bytes;
    std::vector<bool> wild;
    if (std::string e = pattern_token(t.text, bytes, wild); !e.empty()) return e;
    for (std::size_t k = 0; k < bytes.size(); ++k) {
      side.push_back({wild[k] ? PatternItem::Kind::AnyByte : PatternItem::Kind::Byte,
                      bytes[k], {}, 0});
      ++items;
    }
  }
  if (items == 0 && !p.star) {
    return "expected a response pattern (hex bytes, XX, *, $name, $name:N) or a status word";
  }
  // Two plain bytes and nothing else: a status word check (docs: "9000", "61XX").
  if (!only && !p.star && p.head.size() == 2 && items == 2 &&
      p.head[0].kind != PatternItem::Kind::Var && p.head[1].kind != PatternItem::Kind::Var) {
    p.mode = Pattern::Mode::StatusWord;
  }
  for (const auto& name : captured_here_) vars_.insert(name);
  if (!p.star_capture.empty()) vars_.insert(p.star_capture);
  return {};
}

std::string LineParser::parse(const std::vector<Token>& tokens, Step& step, bool& has_step) {
  has_step = false;
  if (tokens.empty()) return {};
  const Token& kw = tokens[0];
  step.line = line_;
  step.timeout = default_timeout_;
  std::size_t i = 1;
  if (kw.quoted) return "expected a keyword, found a quoted string";
  if (kw.text == "timeout") {
    if (tokens.size() != 2) return "expected 'timeout DURATION'";
    return parse_duration(tokens[1], default_timeout_);
  }
  has_step = true;
  if (kw.text == "wait-card") {
    step.kind = Step::Kind::WaitCard;
    return parse_reader_and_timeout(tokens, 1, step);
  }
  if (kw.text == "wait-removal") {
    step.kind = Step::Kind::WaitRemoval;
    return parse_reader_and_timeout(tokens, 1, step);
  }
  if (kw.text == "power-off" || kw.text == "power-on" || kw.text == "reset") {
    step.kind = kw.text == "power-off"  ? Step::Kind::PowerOff
                : kw.text == "power-on" ? Step::Kind::PowerOn
                                        : Step::Kind::Reset;
    return parse_reader_and_timeout(tokens, 1, step);
  }
  if (kw.text == "flush") {
    step.kind = Step::Kind::Flush;
    if (i < tokens.size()) {
      if (std::string e = parse_timeout_option(tokens, i, step); !e.empty()) return e;
    }
    if (i < tokens.size()) return "expected the end of the line after 'flush'";
    return {};
  }
  if (kw.text == "sleep") {
    step.kind = Step::Kind::Sleep;
    if (tokens.size() != 2) return "expected 'sleep DURATION'";
    return parse_duration(tokens[1], step.duration);
  }
  if (kw.text == "set") {
    step.kind = Step::Kind::Set;
    if (tokens.size() < 3 || !tokens[1].text.starts_with("$")) {
      return "expected 'set $name HEX'";
    }
    step.var = tokens[1].text.substr(1);
    if (std::string e = check_var_name(step.var); !e.empty()) return e;
    for (std::size_t k = 2; k < tokens.size(); ++k) {
      if (tokens[k].quoted) return "expected hex bytes, found a quoted string";
      if (std::string e = hex_token(tokens[k].text, step.value); !e.empty()) return e;
    }
    vars_.insert(step.var);
    return {};
  }
  if (kw.text == "send") {
    step.kind = Step::Kind::Send;
    if (std::string e = parse_command(tokens, i, step); !e.empty()) return e;
    if (i < tokens.size() && tokens[i].text == "expect") {
      ++i;
      step.expect.emplace();
      if (std::string e = parse_pattern(tokens, i, *step.expect); !e.empty()) return e;
    }
  } else if (kw.text == "expect") {
    step.kind = Step::Kind::Expect;
    step.expect.emplace();
    if (std::string e = parse_pattern(tokens, i, *step.expect); !e.empty()) return e;
  } else {
    return "expected a keyword (wait-card, send, expect, wait-removal, flush, sleep, set, "
           "power-off, power-on, reset, timeout), found '" + kw.text + "'";
  }
  if (i < tokens.size()) {
    if (std::string e = parse_timeout_option(tokens, i, step); !e.empty()) return e;
  }
  if (i < tokens.size()) return "expected the end of the line, found '" + tokens[i].text + "'";
  return {};
}

}  // namespace

ParseResult parse_script(std::string_view text) {
  Script script;
  std::set<std::string> vars;
  Millis default_timeout = kDefaultStepTimeout;
  int line_no = 0;
  bool saw_apdu_before = false;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    std::vector<Token> tokens;
    std::string source;
    if (std::string e = tokenize(line, tokens, source); !e.empty()) {
      return ScriptError{line_no, e};
    }
    Step step;
    bool has_step = false;
    LineParser parser(line_no, vars, default_timeout);
    if (std::string e = parser.parse(tokens, step, has_step); !e.empty()) {
      return ScriptError{line_no, e};
    }
    if (!has_step) continue;
    if (step.kind == Step::Kind::Send) saw_apdu_before = true;
    if (step.kind == Step::Kind::Expect && !saw_apdu_before) {
      return ScriptError{line_no, "'expect' needs an earlier 'send' whose response it checks"};
    }
    step.text = std::move(source);
    script.steps.push_back(std::move(step));
  }
  return script;
}

std::string format_error(std::string_view file, const ScriptError& error) {
  return std::string(file) + ":" + std::to_string(error.line) + ": " + error.message;
}

}  // namespace vschost
