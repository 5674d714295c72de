// SPDX-License-Identifier: LGPL-2.1-or-later
// match() and build_command(): the response-pattern rules of docs/vschost-scripts.md.
#include <gtest/gtest.h>

#include "pattern_match.h"
#include "script.h"

namespace vschost {
namespace {

using B = std::vector<std::uint8_t>;

Pattern pattern(const std::string& text, std::string setup = "") {
  ParseResult r = parse_script(setup + "send 00 expect " + text + "\n");
  if (auto* e = std::get_if<ScriptError>(&r)) {
    ADD_FAILURE() << e->message;
    return {};
  }
  return *std::get<Script>(r).steps.back().expect;
}

TEST(PatternMatch, StatusWordOnlyIgnoresData) {
  EXPECT_TRUE(match(pattern("9000"), B{0x01, 0x02, 0x90, 0x00}, {}).ok);
  EXPECT_TRUE(match(pattern("9000"), B{0x90, 0x00}, {}).ok);
  EXPECT_TRUE(match(pattern("61XX"), B{0x61, 0x10}, {}).ok);
  MatchResult r = match(pattern("9000"), B{0x6A, 0x82}, {});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.why.find("6A82"), std::string::npos) << r.why;
  EXPECT_FALSE(match(pattern("9000"), B{0x90}, {}).ok);
}

TEST(PatternMatch, OnlyDemandsEmptyData) {
  EXPECT_TRUE(match(pattern("only 9000"), B{0x90, 0x00}, {}).ok);
  EXPECT_FALSE(match(pattern("only 9000"), B{0x01, 0x90, 0x00}, {}).ok);
}

TEST(PatternMatch, ExactAndWildcards) {
  Pattern p = pattern("6F XX 84 9000");
  EXPECT_TRUE(match(p, B{0x6F, 0x55, 0x84, 0x90, 0x00}, {}).ok);
  MatchResult r = match(p, B{0x6F, 0x55, 0x85, 0x90, 0x00}, {});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.why.find("byte 2 is 85, expected 84"), std::string::npos) << r.why;
  r = match(p, B{0x6F, 0x90, 0x00}, {});
  EXPECT_NE(r.why.find("3 bytes, expected 5"), std::string::npos) << r.why;
}

TEST(PatternMatch, StarTakesTheMiddle) {
  Pattern p = pattern("6F * 9000");
  EXPECT_TRUE(match(p, B{0x6F, 0x90, 0x00}, {}).ok);
  EXPECT_TRUE(match(p, B{0x6F, 1, 2, 3, 0x90, 0x00}, {}).ok);
  EXPECT_FALSE(match(p, B{0x6F, 0x90}, {}).ok);
  EXPECT_TRUE(match(pattern("*"), B{}, {}).ok);
}

TEST(PatternMatch, CapturesAndReferences) {
  MatchResult r = match(pattern("$c:4 9000"), B{1, 2, 3, 4, 0x90, 0x00}, {});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.captures["c"], (B{1, 2, 3, 4}));
  r = match(pattern("6F $rest:* 9000"), B{0x6F, 7, 8, 0x90, 0x00}, {});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.captures["rest"], (B{7, 8}));
  Variables vars{{"v", B{0xAA, 0xBB}}};
  Pattern ref = pattern("$v 9000", "set $v AABB\n");
  EXPECT_TRUE(match(ref, B{0xAA, 0xBB, 0x90, 0x00}, vars).ok);
  EXPECT_FALSE(match(ref, B{0xAA, 0xBC, 0x90, 0x00}, vars).ok);
}

TEST(PatternMatch, BuildCommandExpandsVariables) {
  std::vector<CommandPart> parts{{B{0x00, 0x82}, ""}, {{}, "c"}, {B{0x01}, ""}};
  Variables vars{{"c", B{9, 8}}};
  EXPECT_EQ(build_command(parts, vars), (B{0x00, 0x82, 9, 8, 0x01}));
  std::string missing;
  build_command(parts, {}, &missing);
  EXPECT_EQ(missing, "c");
}

TEST(PatternMatch, ToStringRoundTrips) {
  EXPECT_EQ(to_string(pattern("6f xx * 9000")), "6F XX * 90 00");
  EXPECT_EQ(to_string(pattern("only 9000")), "only 90 00");
  EXPECT_EQ(to_string(pattern("$c:2 $r:* 9000")), "$c:2 $r:* 90 00");
}

}  // namespace
}  // namespace vschost
