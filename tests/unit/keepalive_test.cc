// SPDX-License-Identifier: LGPL-2.1-or-later
// Keepalive: the "idle,interval,count" parser. (That the options reach the
// socket is checked with getsockopt in connection_test.)
#include "vscard/keepalive.h"

#include <gtest/gtest.h>

#include "vscard/glib_ptr.h"
#include "vscard/transport_error.h"

namespace vscard {
namespace {

TEST(Keepalive, Parses) {
  GErrorPtr error;
  auto k = Keepalive::parse("60,10,6", error.out());
  ASSERT_TRUE(k) << error.message();
  EXPECT_EQ(*k, (Keepalive{60, 10, 6}));
  EXPECT_EQ(k->to_string(), "60,10,6");
  EXPECT_EQ(Keepalive::parse("1,1,1", error.out()), (Keepalive{1, 1, 1}));
  EXPECT_EQ(Keepalive::parse("32767,32767,127", error.out()), (Keepalive{32767, 32767, 127}));
}

std::string parse_error(std::string_view text) {
  GErrorPtr error;
  EXPECT_FALSE(Keepalive::parse(text, error.out())) << text;
  EXPECT_TRUE(g_error_matches(error.get(), VSCARD_TRANSPORT_ERROR,
                              static_cast<int>(TransportError::InvalidKeepalive)));
  return error.message();
}

TEST(Keepalive, Malformed) {
  for (const char* text : {"", "60", "60,10", "60,10,6,1", "60;10;6"})
    EXPECT_NE(parse_error(text).find("IDLE,INTERVAL,COUNT"), std::string::npos) << text;
  EXPECT_NE(parse_error("60,,6").find("interval must be"), std::string::npos);
  EXPECT_NE(parse_error(",10,6").find("idle must be"), std::string::npos);
  EXPECT_NE(parse_error("60,10,").find("count must be"), std::string::npos);
  EXPECT_NE(parse_error("0,10,6").find("idle must be"), std::string::npos);
  EXPECT_NE(parse_error("x,10,6").find("idle must be"), std::string::npos);
  EXPECT_NE(parse_error("60,-1,6").find("interval must be"), std::string::npos);
  EXPECT_NE(parse_error("60,10,128").find("count must be a whole number from 1 to 127"),
            std::string::npos);
  EXPECT_NE(parse_error("32768,10,6").find("idle must be"), std::string::npos);
  EXPECT_NE(parse_error("60, 10,6").find("interval must be"), std::string::npos);
  EXPECT_NE(parse_error("99999999999,1,1").find("idle must be"), std::string::npos);
}

}  // namespace
}  // namespace vscard
