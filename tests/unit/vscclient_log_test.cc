// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient/log.cc: every log line in one format, peer text escaped.
#include "log.h"

#include <gtest/gtest.h>

namespace vscclient {
namespace {

TEST(LogLine, OneFormatPerLevel) {
  EXPECT_EQ(format_log_line(false, true, false, "vscclient", "cannot connect"),
            "vscclient: warning: cannot connect");
  EXPECT_EQ(format_log_line(true, false, false, "vscclient", "TLS credentials: x"),
            "vscclient: error: TLS credentials: x");
  EXPECT_EQ(format_log_line(false, false, false, "vscclient", "connected to h:1"),
            "vscclient: connected to h:1");
  EXPECT_EQ(format_log_line(false, false, true, "libcacard", "slot 0"),
            "vscclient: debug: libcacard: slot 0");
  EXPECT_EQ(format_log_line(false, true, false, "", "no domain"), "vscclient: warning: no domain");
}

TEST(LogLine, PeerTextIsEscaped) {
  std::string line = format_log_line(false, true, false, "vscclient", "reader \x1b[31mred\nx");
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
}

}  // namespace
}  // namespace vscclient
