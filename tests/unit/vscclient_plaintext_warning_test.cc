// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient/plaintext_warning.cc: which connections get the "PINs in the clear" warning.
#include "plaintext_warning.h"

#include <gtest/gtest.h>

namespace vscclient {
namespace {

TEST(PlaintextWarning, LoopbackHosts) {
  for (const char* host : {"localhost", "qemu.localhost", "127.0.0.1", "127.1.2.3", "::1"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (const char* host : {"10.0.0.1", "192.0.2.7", "2001:db8::1", "qemu-host", "example.com"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
}

TEST(PlaintextWarning, OnlyPlainTcpToAnotherMachine) {
  EXPECT_TRUE(needs_plaintext_warning(vscard::Address::tcp("qemu-host", 2001), false));
  EXPECT_TRUE(needs_plaintext_warning(vscard::Address::tcp("2001:db8::1", 2001), false));
  EXPECT_FALSE(needs_plaintext_warning(vscard::Address::tcp("qemu-host", 2001), true));
  EXPECT_FALSE(needs_plaintext_warning(vscard::Address::tcp("127.0.0.1", 2001), false));
  EXPECT_FALSE(needs_plaintext_warning(vscard::Address::unix_path("/run/vscard.sock"), false));
}

}  // namespace
}  // namespace vscclient
