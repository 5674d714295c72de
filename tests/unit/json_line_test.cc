// vschost's output escaping (vschost/json_line.cc): peer text never reaches a
// terminal, a text report or a JSON line raw.
#include "json_line.h"

#include <gtest/gtest.h>

namespace vschost {
namespace {

TEST(TerminalSafe, PlainAndUtf8TextPassUnchanged) {
  EXPECT_EQ(terminal_safe("Virtual PCD 00 00"), "Virtual PCD 00 00");
  EXPECT_EQ(terminal_safe("Leser \xC3\xA4 \xE2\x82\xAC"), "Leser \xC3\xA4 \xE2\x82\xAC");
}

TEST(TerminalSafe, ControlBytesAndBadUtf8AreEscaped) {
  EXPECT_EQ(terminal_safe("a\x1b[31mb"), "a\\x1B[31mb");
  EXPECT_EQ(terminal_safe(std::string_view("x\0y\n\r\x7f", 6)), "x\\x00y\\x0A\\x0D\\x7F");
  EXPECT_EQ(terminal_safe("\xff\xC3"), "\\xFF\\xC3");        // invalid, truncated
  EXPECT_EQ(terminal_safe("\xC2\x9B" "2J"), "\\xC2\\x9B2J");  // C1 CSI
  EXPECT_EQ(terminal_safe("a\\x41"), "a\\x5Cx41");           // escapes stay unambiguous
}

TEST(JsonQuote, ControlBytesAreEscaped) {
  EXPECT_EQ(json_quote("a\x1b" "b\"\\"), "\"a\\u001bb\\\"\\\\\"");
}

}  // namespace
}  // namespace vschost
