// SPDX-License-Identifier: LGPL-2.1-or-later
// program_common/program_log.cc: every log line of both programs in one
// format, peer text escaped.
#include "program_log.h"

#include <gtest/gtest.h>

namespace programs {
namespace {

TEST(LogLine, OneFormatPerLevel) {
  EXPECT_EQ(format_log_line("vscclient", false, true, false, "vscclient", "cannot connect"),
            "vscclient: warning: cannot connect");
  EXPECT_EQ(format_log_line("vscclient", true, false, false, "vscclient", "TLS credentials: x"),
            "vscclient: error: TLS credentials: x");
  EXPECT_EQ(format_log_line("vscclient", false, false, false, "vscclient", "connected to h:1"),
            "vscclient: connected to h:1");
  EXPECT_EQ(format_log_line("vscclient", false, false, true, "libcacard", "slot 0"),
            "vscclient: debug: libcacard: slot 0");
  EXPECT_EQ(format_log_line("vscclient", false, true, false, "", "no domain"),
            "vscclient: warning: no domain");
}

TEST(LogLine, TheProgramNamesItsLines) {
  EXPECT_EQ(format_log_line("vschost", false, false, false, "vschost", "listening on ::1:2001"),
            "vschost: listening on ::1:2001");
  EXPECT_EQ(format_log_line("vschost", false, true, false, "vschost", "client 1: gone"),
            "vschost: warning: client 1: gone");
  // libvscard's own domain is named, as any other.
  EXPECT_EQ(format_log_line("vschost", false, false, true, "vscard", "frame"),
            "vschost: debug: vscard: frame");
}

TEST(LogLine, PeerTextIsEscaped) {
  std::string line =
      format_log_line("vscclient", false, true, false, "vscclient", "reader \x1b[31mred\nx");
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  line = format_log_line("vschost", false, true, false, "dom\nain", "x");
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
}

}  // namespace
}  // namespace programs
