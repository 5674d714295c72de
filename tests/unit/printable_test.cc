// SPDX-License-Identifier: LGPL-2.1-or-later
// vscard::printable(): the one escaping rule for peer text (issue 18), and the
// log writer's formatting that applies it to the MESSAGE field.
#include "vscard/printable.h"

#include <gtest/gtest.h>

#include "vscard/printable_log.h"
#include "wire/utf8.h"

namespace vscard {
namespace {

// No byte a terminal acts on: no C0 control, no DEL, valid UTF-8, no C1 or
// bidi control (the result is then safe on one line of any output).
void expect_inert(const std::string& s) {
  EXPECT_TRUE(wire::is_valid_utf8(s)) << s;
  for (unsigned char c : s) {
    EXPECT_FALSE(c < 0x20 || c == 0x7F) << "raw control byte " << int(c) << " in " << s;
  }
  EXPECT_EQ(s.find("\xC2\x9B"), std::string::npos) << s;
  EXPECT_EQ(s.find("\xE2\x80\xAE"), std::string::npos) << s;
}

TEST(Printable, PrintableTextUnchanged) {
  EXPECT_EQ(printable("Virtual PCD 00 00"), "Virtual PCD 00 00");
  EXPECT_EQ(printable("Gemalto \xC3\xA9l\xC3\xA9ment \xE2\x82\xAC \xF0\x9F\x94\x91"),
            "Gemalto \xC3\xA9l\xC3\xA9ment \xE2\x82\xAC \xF0\x9F\x94\x91");
  EXPECT_EQ(printable(""), "");
}

TEST(Printable, LineBreaksAndControlsBecomeVisible) {
  EXPECT_EQ(printable("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(printable(std::string("x\0y", 3)), "x\\x00y");
  EXPECT_EQ(printable("\x1B[2J\x07\x7F"), "\\x1b[2J\\x07\\x7f");
  EXPECT_EQ(printable("back\\slash"), "back\\\\slash");
}

TEST(Printable, ForgedSummaryLineStaysOnOneLine) {
  std::string name = "Reader\n1 run, 1 steps: 1 passed, 0 failed, 0 not run\x1B[2J";
  std::string s = printable(name);
  EXPECT_EQ(s, "Reader\\n1 run, 1 steps: 1 passed, 0 failed, 0 not run\\x1b[2J");
  expect_inert(s);
}

TEST(Printable, InvalidUtf8BytesEscapedOneByOne) {
  EXPECT_EQ(printable("\xFF\xFE"), "\\xff\\xfe");
  EXPECT_EQ(printable("\xC0\xAF"), "\\xc0\\xaf");            // overlong '/'
  EXPECT_EQ(printable("\xED\xA0\x80"), "\\xed\\xa0\\x80");   // surrogate
  EXPECT_EQ(printable("ok\xE2\x82"), "ok\\xe2\\x82");        // truncated at the end
  EXPECT_EQ(printable("\xF4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  expect_inert(printable("\x80\xBF\xC3(\xE0\x80\x80"));
}

TEST(Printable, C1AndBidiControlsEscaped) {
  EXPECT_EQ(printable("\xC2\x9B" "2J"), "\\u009b2J");  // the one-byte CSI
  EXPECT_EQ(printable("abc\xE2\x80\xAE" "fed"), "abc\\u202efed");
  EXPECT_EQ(printable("\xE2\x81\xA6x\xE2\x81\xA9"), "\\u2066x\\u2069");
}

TEST(Printable, EveryByteValueIsInert) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  expect_inert(printable(all));
}

TEST(PrintableLog, MessageFieldEscaped) {
  const char* message = "reader 'R\n** (vschost): forged\x1B]0;title\x07'";
  GLogField fields[] = {
      {"GLIB_DOMAIN", "vschost", -1},
      {"MESSAGE", message, -1},
  };
  std::string line = format_log_fields_printable(G_LOG_LEVEL_MESSAGE, fields, 2);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_EQ(line.find('\x1B'), std::string::npos) << line;
  EXPECT_NE(line.find("R\\n** (vschost): forged\\x1b]0;title\\x07"), std::string::npos) << line;
}

}  // namespace
}  // namespace vscard
