// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient/options.cc: the anchor's command line and the long options.
#include "options.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace vscclient {
namespace {

std::optional<Options> parse(std::initializer_list<const char*> args, std::string* error) {
  std::vector<std::string> storage{"vscclient"};
  for (const char* a : args) storage.emplace_back(a);
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  return parse_options(static_cast<int>(storage.size()), argv.data(), error);
}

TEST(Options, AnchorCommandLine) {
  std::string error;
  auto o = parse({"-e", "db=\"sql:/x\"", "-c", "a", "-c", "b", "-d", "3", "qemu", "2001"}, &error);
  ASSERT_TRUE(o) << error;
  EXPECT_EQ(o->emul_args, "db=\"sql:/x\"");
  EXPECT_EQ(o->cert_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(o->debug_level, 3);
  EXPECT_EQ(o->host, "qemu");
  EXPECT_EQ(o->port, "2001");
  EXPECT_TRUE(o->reconnect);
  EXPECT_EQ(emul_args_for(*o), "db=\"sql:/x\",soft=(,Virtual Reader,CAC,,a,b)");
}

TEST(Options, CertWithoutEmulArgsUsesAnchorDefaultDatabase) {
  std::string error;
  auto o = parse({"--cert", "me", "::1", "2001"}, &error);
  ASSERT_TRUE(o) << error;
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(emul_args_for(*o), "db=\"/etc/pki/nssdb\",soft=(,Virtual Reader,CAC,,me)");
}

TEST(Options, NssDbGetsSqlPrefix) {
  std::string error;
  auto o = parse({"--nss-db", "/d", "-c", "me", "h", "1"}, &error);
  ASSERT_TRUE(o) << error;
  EXPECT_EQ(emul_args_for(*o), "db=\"sql:/d\",soft=(,Virtual Reader,CAC,,me)");
  auto hw = parse({"--nss-db", "/d", "h", "1"}, &error);
  ASSERT_TRUE(hw);
  EXPECT_EQ(emul_args_for(*hw), "db=\"sql:/d\"");
}

TEST(Options, LongOptions) {
  std::string error;
  auto o = parse({"--soft-card", "--tls-creds", "/t", "--tls-hostname", "qemu.example",
                  "--keepalive", "10,5,3", "--reconnect=7", "--trace=unredacted", "-v", "-v",
                  "h", "1"},
                 &error);
  ASSERT_TRUE(o) << error;
  EXPECT_TRUE(o->soft_card);
  EXPECT_EQ(o->tls_creds, "/t");
  EXPECT_EQ(o->tls_hostname, "qemu.example");
  EXPECT_EQ(o->keepalive, (vscard::Keepalive{10, 5, 3}));
  EXPECT_EQ(o->reconnect_max_delay, std::chrono::seconds(7));
  EXPECT_TRUE(o->trace);
  EXPECT_TRUE(o->trace_unredacted);
  EXPECT_EQ(o->debug_level, 2);
  auto no = parse({"--no-reconnect", "--unix", "/run/s", "--trace"}, &error);
  ASSERT_TRUE(no) << error;
  EXPECT_FALSE(no->reconnect);
  EXPECT_EQ(no->unix_path, "/run/s");
  EXPECT_TRUE(no->trace);
  EXPECT_FALSE(no->trace_unredacted);
}

TEST(Options, UsageErrorsSayWhat) {
  std::string error;
  EXPECT_FALSE(parse({"h"}, &error));
  EXPECT_EQ(error, "HOST and PORT are required");
  EXPECT_FALSE(parse({"h", "1", "x"}, &error));
  EXPECT_FALSE(parse({"--unix", "/s", "h", "1"}, &error));
  EXPECT_FALSE(parse({"--bogus", "h", "1"}, &error));
  EXPECT_NE(error.find("--bogus"), std::string::npos) << error;
  EXPECT_FALSE(parse({"h", "1", "-c"}, &error));
  EXPECT_NE(error.find("-c"), std::string::npos) << error;
  EXPECT_FALSE(parse({"--soft-card", "-c", "x", "h", "1"}, &error));
  EXPECT_FALSE(parse({"--trace=all", "h", "1"}, &error));
  EXPECT_FALSE(parse({"--reconnect=0", "h", "1"}, &error));
  EXPECT_FALSE(parse({"-d", "x", "h", "1"}, &error));
  EXPECT_FALSE(parse({"--tls-hostname", "n", "h", "1"}, &error));
}

// GOption reads these words differently from getopt_long; libcacard's
// command lines must keep their meaning (program_common/command_line.h).
TEST(Options, GetoptReadingOfTheWords) {
  std::string error;
  auto pcsc = parse({"--pcsc", "qemu", "2001"}, &error);
  ASSERT_TRUE(pcsc) << error;
  EXPECT_EQ(pcsc->pcsc, "");
  EXPECT_EQ(pcsc->host, "qemu");
  EXPECT_EQ(pcsc->port, "2001");
  for (const char* bare : {"--reconnect", "--trace", "--pin-guard", "--vicc"}) {
    auto o = parse({bare, "qemu", "2001"}, &error);
    ASSERT_TRUE(o) << bare << ": " << error;
    EXPECT_EQ(o->host, "qemu") << bare;
  }
  auto attached = parse({"-d1", "-cme", "-vd2", "qemu", "2001"}, &error);
  ASSERT_TRUE(attached) << error;
  EXPECT_EQ(attached->debug_level, 2);
  EXPECT_EQ(attached->cert_names, (std::vector<std::string>{"me"}));
  auto cluster = parse({"-pd3", "qemu", "2001"}, &error);
  ASSERT_TRUE(cluster) << error;
  EXPECT_TRUE(cluster->compare_pcsc);
  EXPECT_EQ(cluster->debug_level, 3);
  auto permuted = parse({"qemu", "--pcsc=Virtual", "2001", "-v"}, &error);
  ASSERT_TRUE(permuted) << error;
  EXPECT_EQ(permuted->pcsc, "Virtual");
  EXPECT_EQ(permuted->port, "2001");
  EXPECT_EQ(permuted->debug_level, 1);
  auto dashes = parse({"--", "-host", "2001"}, &error);
  ASSERT_TRUE(dashes) << error;
  EXPECT_EQ(dashes->host, "-host");
  auto value_dash = parse({"-c", "--", "qemu", "2001"}, &error);
  ASSERT_TRUE(value_dash) << error;
  EXPECT_EQ(value_dash->cert_names, (std::vector<std::string>{"--"}));
  auto spaced = parse({"--nss-db", "/d", "--vicc-timeout", "5", "qemu", "2001"}, &error);
  ASSERT_TRUE(spaced) << error;
  EXPECT_EQ(spaced->nss_db, "/d");
  EXPECT_EQ(spaced->vicc_timeout, std::chrono::seconds(5));
  EXPECT_FALSE(parse({"--once=yes", "qemu", "2001"}, &error));
  EXPECT_EQ(error, "option --once takes no value");
  EXPECT_FALSE(parse({"qemu", "2001", "--nss-db"}, &error));
  EXPECT_EQ(error, "option --nss-db needs a value");
  EXPECT_FALSE(parse({"-x", "qemu", "2001"}, &error));
  EXPECT_EQ(error, "unknown option -x");
  EXPECT_FALSE(parse({"--reconnect", "--no-reconnect", "--reconnect=x", "qemu", "2001"}, &error));
  auto last_wins = parse({"--reconnect", "--no-reconnect", "qemu", "2001"}, &error);
  ASSERT_TRUE(last_wins) << error;
  EXPECT_FALSE(last_wins->reconnect);
}

TEST(Options, PresentationIsOnByDefault) {
  std::string error;
  auto o = parse({"h", "1"}, &error);
  ASSERT_TRUE(o) << error;
  EXPECT_EQ(o->t0, vscard::T0Translation::Auto);
  EXPECT_TRUE(o->shaping);
}

TEST(Options, T0ShapingAndRaw) {
  std::string error;
  auto on = parse({"--t0=on", "--no-shaping", "h", "1"}, &error);
  ASSERT_TRUE(on) << error;
  EXPECT_EQ(on->t0, vscard::T0Translation::On);
  EXPECT_FALSE(on->shaping);
  auto off = parse({"--t0", "off", "h", "1"}, &error);
  ASSERT_TRUE(off) << error;
  EXPECT_EQ(off->t0, vscard::T0Translation::Off);
  EXPECT_TRUE(off->shaping);
  auto raw = parse({"--raw", "h", "1"}, &error);
  ASSERT_TRUE(raw) << error;
  EXPECT_EQ(raw->t0, vscard::T0Translation::Off);
  EXPECT_FALSE(raw->shaping);
  EXPECT_TRUE(parse({"--raw", "--t0=off", "h", "1"}, &error));
  EXPECT_FALSE(parse({"--raw", "--t0=on", "h", "1"}, &error));
  EXPECT_NE(error.find("--raw"), std::string::npos) << error;
  EXPECT_FALSE(parse({"--t0=yes", "h", "1"}, &error));
  EXPECT_NE(error.find("auto, on or off"), std::string::npos) << error;
}

TEST(Options, HelpAndVersionNeedNoHost) {
  std::string error;
  auto help = parse({"--help"}, &error);
  ASSERT_TRUE(help);
  EXPECT_TRUE(help->show_help);
  auto version = parse({"--version"}, &error);
  ASSERT_TRUE(version);
  EXPECT_TRUE(version->show_version);
  std::string text = usage_text("vscclient");
  for (const char* option : {"--soft-card", "--nss-db", "--cert", "--tls-creds", "--tls-hostname",
                             "--keepalive", "--reconnect", "--no-reconnect", "--unix", "--trace",
                             "--verbose", "--version", "--help", "-e", "-d", "-p"}) {
    EXPECT_NE(text.find(option), std::string::npos) << option;
  }
}

TEST(Options, PinGuard) {
  std::string error;
  auto off = parse({"qemu", "2001"}, &error);
  ASSERT_TRUE(off) << error;
  EXPECT_FALSE(off->pin_guard);
  auto bare = parse({"--pin-guard", "qemu", "2001"}, &error);
  ASSERT_TRUE(bare) << error;
  EXPECT_EQ(bare->pin_guard, 1u);
  auto two = parse({"--pin-guard=2", "qemu", "2001"}, &error);
  ASSERT_TRUE(two) << error;
  EXPECT_EQ(two->pin_guard, 2u);
  EXPECT_FALSE(parse({"--pin-guard=16", "qemu", "2001"}, &error));
  EXPECT_NE(error.find("0..15"), std::string::npos) << error;
}

}  // namespace
}  // namespace vscclient
