// SPDX-License-Identifier: LGPL-2.1-or-later
// Pattern semantics (docs/vschost-scripts.md): head matches from the first byte,
// tail ends at the last byte, a star takes whatever lies between; without a
// star the lengths must agree exactly. StatusWord patterns look at SW1 SW2 only.
#include "pattern_match.h"

#include <algorithm>
#include <cstdio>

namespace vschost {
namespace {

std::string hex(std::span<const std::uint8_t> b) {
  std::string s;
  char buf[3];
  for (auto x : b) {
    std::snprintf(buf, sizeof buf, "%02X", x);
    s += buf;
  }
  return s;
}

// Length an item needs, or npos when a variable is unknown.
std::size_t item_length(const PatternItem& item, const Variables& vars) {
  switch (item.kind) {
    case PatternItem::Kind::Byte:
    case PatternItem::Kind::AnyByte:
      return 1;
    case PatternItem::Kind::Capture:
      return item.length;
    case PatternItem::Kind::Var: {
      auto it = vars.find(item.name);
      return it == vars.end() ? std::string::npos : it->second.size();
    }
  }
  return 0;
}

std::size_t items_length(const std::vector<PatternItem>& items, const Variables& vars) {
  std::size_t n = 0;
  for (const auto& item : items) {
    std::size_t l = item_length(item, vars);
    if (l == std::string::npos) return l;
    n += l;
  }
  return n;
}

// Matches `items` against `data` (same total length); fills captures.
bool match_items(const std::vector<PatternItem>& items, std::span<const std::uint8_t> data,
                 std::size_t base, const Variables& vars, MatchResult& r) {
  std::size_t pos = 0;
  for (const auto& item : items) {
    switch (item.kind) {
      case PatternItem::Kind::Byte:
        if (data[pos] != item.value) {
          char buf[80];
          std::snprintf(buf, sizeof buf, "byte %zu is %02X, expected %02X", base + pos,
                        data[pos], item.value);
          r.why = buf;
          return false;
        }
        ++pos;
        break;
      case PatternItem::Kind::AnyByte:
        ++pos;
        break;
      case PatternItem::Kind::Capture:
        r.captures[item.name].assign(data.begin() + pos, data.begin() + pos + item.length);
        pos += item.length;
        break;
      case PatternItem::Kind::Var: {
        const auto& value = vars.find(item.name)->second;
        if (!std::equal(value.begin(), value.end(), data.begin() + pos)) {
          r.why = "bytes " + std::to_string(base + pos) + ".. differ from $" + item.name +
                  " (" + hex(value) + ")";
          return false;
        }
        pos += value.size();
        break;
      }
    }
  }
  return true;
}

void append_items(std::string& s, const std::vector<PatternItem>& items) {
  for (const auto& item : items) {
    if (!s.empty()) s += ' ';
    switch (item.kind) {
      case PatternItem::Kind::Byte:
        s += hex(std::span<const std::uint8_t>(&item.value, 1));
        break;
      case PatternItem::Kind::AnyByte:
        s += "XX";
        break;
      case PatternItem::Kind::Var:
        s += "$" + item.name;
        break;
      case PatternItem::Kind::Capture:
        s += "$" + item.name + ":" + std::to_string(item.length);
        break;
    }
  }
}

}  // namespace

MatchResult match(const Pattern& p, std::span<const std::uint8_t> response,
                  const Variables& vars) {
  MatchResult r;
  if (p.mode == Pattern::Mode::StatusWord) {
    if (response.size() < 2) {
      r.why = "response has no status word (" + std::to_string(response.size()) + " bytes)";
      return r;
    }
    r.ok = match_items(p.head, response.subspan(response.size() - 2), response.size() - 2,
                       vars, r);
    if (!r.ok) r.why = "status word is " + hex(response.subspan(response.size() - 2));
    return r;
  }
  std::size_t head = items_length(p.head, vars), tail = items_length(p.tail, vars);
  if (head == std::string::npos || tail == std::string::npos) {
    r.why = "the pattern uses a variable no step has stored";
    return r;
  }
  bool length_ok = p.star ? response.size() >= head + tail : response.size() == head + tail;
  if (!length_ok) {
    r.why = "response is " + std::to_string(response.size()) + " bytes, expected " +
            (p.star ? "at least " : "") + std::to_string(head + tail);
    return r;
  }
  if (!match_items(p.head, response.first(head), 0, vars, r)) return r;
  std::size_t tail_start = response.size() - tail;
  if (!match_items(p.tail, response.subspan(tail_start), tail_start, vars, r)) return r;
  if (!p.star_capture.empty()) {
    auto middle = response.subspan(head, tail_start - head);
    r.captures[p.star_capture].assign(middle.begin(), middle.end());
  }
  r.ok = true;
  return r;
}

std::string to_string(const Pattern& p) {
  std::string s;
  append_items(s, p.head);
  if (p.star) {
    if (!s.empty()) s += ' ';
    s += p.star_capture.empty() ? "*" : "$" + p.star_capture + ":*";
  }
  append_items(s, p.tail);
  auto plain = [](const PatternItem& i) {
    return i.kind == PatternItem::Kind::Byte || i.kind == PatternItem::Kind::AnyByte;
  };
  if (p.mode == Pattern::Mode::Full && !p.star && p.head.size() == 2 && plain(p.head[0]) &&
      plain(p.head[1])) {
    s = "only " + s;  // two bytes would otherwise read as a status word
  }
  return s;
}

std::vector<std::uint8_t> build_command(const std::vector<CommandPart>& parts,
                                        const Variables& vars, std::string* missing) {
  std::vector<std::uint8_t> out;
  for (const auto& part : parts) {
    if (part.var.empty()) {
      out.insert(out.end(), part.bytes.begin(), part.bytes.end());
      continue;
    }
    auto it = vars.find(part.var);
    if (it == vars.end()) {
      if (missing) *missing = part.var;
      continue;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  return out;
}

}  // namespace vschost
