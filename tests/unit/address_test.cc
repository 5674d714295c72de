// SPDX-License-Identifier: LGPL-2.1-or-later
// Address: the QEMU-style text forms, the HOST PORT pair, and every malformed case.
#include "vscard/address.h"

#include <gtest/gtest.h>

#include "vscard/glib_ptr.h"
#include "vscard/transport_error.h"

namespace vscard {
namespace {

Address parse_ok(std::string_view text) {
  GErrorPtr error;
  auto a = Address::parse(text, error.out());
  EXPECT_TRUE(a.has_value()) << text << ": " << error.message();
  return a.value_or(Address{});
}

std::string parse_error(std::string_view text) {
  GErrorPtr error;
  auto a = Address::parse(text, error.out());
  EXPECT_FALSE(a.has_value()) << text;
  EXPECT_TRUE(g_error_matches(error.get(), VSCARD_TRANSPORT_ERROR,
                              static_cast<int>(TransportError::InvalidAddress)));
  return error.message();
}

TEST(Address, HostPort) {
  EXPECT_EQ(parse_ok("qemu-host:2001"), Address::tcp("qemu-host", 2001));
  EXPECT_EQ(parse_ok("127.0.0.1:2001"), Address::tcp("127.0.0.1", 2001));
  EXPECT_EQ(parse_ok(":2001"), Address::tcp("", 2001));
  EXPECT_EQ(parse_ok("localhost:0"), Address::tcp("localhost", 0));
}

TEST(Address, BracketedIpv6) {
  EXPECT_EQ(parse_ok("[::1]:2001"), Address::tcp("::1", 2001));
  EXPECT_EQ(parse_ok("[fe80::1%eth0]:65535"), Address::tcp("fe80::1%eth0", 65535));
}

TEST(Address, Unix) {
  EXPECT_EQ(parse_ok("unix:/run/vscard.sock"), Address::unix_path("/run/vscard.sock"));
  EXPECT_EQ(parse_ok("unix:relative.sock"), Address::unix_path("relative.sock"));
}

TEST(Address, RoundTrip) {
  for (const char* text : {"qemu-host:2001", "[::1]:2001", "unix:/tmp/x.sock", "10.0.0.1:1"})
    EXPECT_EQ(parse_ok(text).to_string(), text);
}

TEST(Address, Malformed) {
  EXPECT_NE(parse_error("qemu-host").find("missing port"), std::string::npos);
  EXPECT_NE(parse_error("qemu-host:").find("missing port"), std::string::npos);
  EXPECT_NE(parse_error("host:65536").find("0 to 65535"), std::string::npos);
  EXPECT_NE(parse_error("host:20x1").find("0 to 65535"), std::string::npos);
  EXPECT_NE(parse_error("host:-1").find("0 to 65535"), std::string::npos);
  EXPECT_NE(parse_error("::1:2001").find("needs brackets"), std::string::npos);
  EXPECT_NE(parse_error("[::1:2001").find("missing ']'"), std::string::npos);
  EXPECT_NE(parse_error("[::1]2001").find("expected ':PORT'"), std::string::npos);
  EXPECT_NE(parse_error("[]:2001").find("empty IPv6"), std::string::npos);
  EXPECT_NE(parse_error("unix:").find("missing socket path"), std::string::npos);
  EXPECT_NE(parse_error("").find("missing port"), std::string::npos);
  EXPECT_NE(parse_error("a b:1").find("not allowed"), std::string::npos);
  // The message quotes the input so the user sees what was wrong.
  EXPECT_NE(parse_error("qemu-host").find("'qemu-host'"), std::string::npos);
}

TEST(Address, FromHostPort) {
  GErrorPtr error;
  EXPECT_EQ(Address::from_host_port("qemu-host", "2001", error.out()), Address::tcp("qemu-host", 2001));
  EXPECT_EQ(Address::from_host_port("::1", "2001", error.out()), Address::tcp("::1", 2001));
  EXPECT_EQ(Address::from_host_port("[::1]", "2001", error.out()), Address::tcp("::1", 2001));
  EXPECT_EQ(Address::from_host_port("unix:/tmp/s", "", error.out()), Address::unix_path("/tmp/s"));
  EXPECT_FALSE(Address::from_host_port("unix:/tmp/s", "2001", error.out()));
  EXPECT_NE(std::string(error.message()).find("takes no port"), std::string::npos);
  EXPECT_FALSE(Address::from_host_port("host", "port", error.out()));
  EXPECT_NE(std::string(error.message()).find("0 to 65535"), std::string::npos);
  EXPECT_FALSE(Address::from_host_port("", "2001", error.out()));
}

}  // namespace
}  // namespace vscard
