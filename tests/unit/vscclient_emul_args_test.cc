// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient/emul_args.cc: the -c string and the checks before libcacard.
#include "emul_args.h"

#include <gtest/gtest.h>

namespace vscclient {
namespace {

TEST(BuildSoftEmulArgs, AnchorDefaultDatabase) {
  // libcacard's vscclient.c: db="/etc/pki/nssdb" + ",soft=(,Virtual Reader,CAC,,".
  EXPECT_EQ(build_soft_emul_args(std::nullopt, {"a", "b"}),
            "db=\"/etc/pki/nssdb\",soft=(,Virtual Reader,CAC,,a,b)");
}

TEST(BuildSoftEmulArgs, KeepsGivenEmulArgs) {
  EXPECT_EQ(build_soft_emul_args("db=\"sql:/tmp/x\"", {"cert"}),
            "db=\"sql:/tmp/x\",soft=(,Virtual Reader,CAC,,cert)");
}

TEST(SummarizeEmulArgs, ReadsDatabaseAndCertificates) {
  std::string error;
  auto s = summarize_emul_args(
      "db=\"sql:/tmp/db\",soft=(,Virtual Reader,CAC,,id cert,sign, enc)", &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->db, "sql:/tmp/db");
  EXPECT_EQ(s->soft_cert_names, (std::vector<std::string>{"id cert", "sign", "enc"}));
  EXPECT_TRUE(s->use_hw);
}

TEST(SummarizeEmulArgs, AnchorTrailingCommaGivesNoEmptyName) {
  auto s = summarize_emul_args("db=\"/x\",soft=(,Virtual Reader,CAC,,a,b,)", nullptr);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->soft_cert_names, (std::vector<std::string>{"a", "b"}));
}

TEST(SummarizeEmulArgs, UseHwAndAliases) {
  auto no = summarize_emul_args("use_hw=no db=\"/x\"", nullptr);
  ASSERT_TRUE(no);
  EXPECT_FALSE(no->use_hw);
  EXPECT_EQ(no->db, "/x");
  auto emul = summarize_emul_args("use_hw=no nssemul", nullptr);
  ASSERT_TRUE(emul);
  EXPECT_TRUE(emul->use_hw);
  auto passthru = summarize_emul_args("passthru", nullptr);
  ASSERT_TRUE(passthru);
  EXPECT_TRUE(passthru->passthru);
  EXPECT_FALSE(passthru->db);
}

TEST(SummarizeEmulArgs, RejectsWhatLibcacardMisreads) {
  std::string error;
  // libcacard 2.8 reads past the end of this string (no closing parenthesis).
  EXPECT_FALSE(summarize_emul_args("soft=(,r,CAC,,cert", &error));
  EXPECT_NE(error.find("')'"), std::string::npos) << error;
  EXPECT_FALSE(summarize_emul_args("soft=(,r,CAC)", &error));
  EXPECT_FALSE(summarize_emul_args("soft=,r", &error));
  EXPECT_FALSE(summarize_emul_args("db=/unquoted", &error));
  EXPECT_FALSE(summarize_emul_args("db=\"/x", &error));
  EXPECT_FALSE(summarize_emul_args("db=\"/x\" db=\"/y\"", &error));
  EXPECT_FALSE(summarize_emul_args("frobnicate", &error));
  EXPECT_NE(error.find("frobnicate"), std::string::npos);
}

// A nickname fits exactly when libcacard's parser (mirrored by
// summarize_emul_args) gives it back whole from the built string.
TEST(SoftCertNameFits, MatchesWhatTheParserReadsBack) {
  for (const std::string name : {"alice-id", "John Doe's ID", "a\"b", "trailing ", "Doe, John",
                                 "ID (2)", " leading", "", "a)b"}) {
    std::string error;
    auto summary = summarize_emul_args(build_soft_emul_args(std::nullopt, {name}), &error);
    const bool read_back = summary && summary->soft_cert_names == std::vector<std::string>{name};
    EXPECT_EQ(soft_cert_name_fits(name), read_back) << "'" << name << "' " << error;
  }
}

TEST(NssDbDirectory, StripsPrefix) {
  EXPECT_EQ(nss_db_directory("sql:/a/b"), "/a/b");
  EXPECT_EQ(nss_db_directory("dbm:/a"), "/a");
  EXPECT_EQ(nss_db_directory("/etc/pki/nssdb"), "/etc/pki/nssdb");
}

}  // namespace
}  // namespace vscclient
