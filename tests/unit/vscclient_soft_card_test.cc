// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient/soft_card.cc: the --soft-card NSS database, checked with NSS itself.
#include "soft_card.h"

#include <set>
#include <string>

#include <cryptohi.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nss_handles.h"

namespace vscclient {
namespace {

class SoftCardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_autofree char* tmp = g_dir_make_tmp("vscclient-soft-card-XXXXXX", nullptr);
    ASSERT_NE(tmp, nullptr);
    root_ = tmp;
    dir_ = root_ + "/cache/vscard/soft-card";
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + root_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::set<std::string> entries(const std::string& dir) {
    std::set<std::string> names;
    if (GDir* d = g_dir_open(dir.c_str(), 0, nullptr)) {
      while (const char* name = g_dir_read_name(d)) names.insert(name);
      g_dir_close(d);
    }
    return names;
  }
  std::string root_, dir_;
};

// Two processes creating the database at once both succeed and leave exactly
// one complete database behind (temp dir + rename).
TEST_F(SoftCardTest, ConcurrentCreationYieldsOneDatabase) {
  pid_t children[2];
  for (pid_t& child : children) {
    child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      std::string error;
      _exit(ensure_soft_card(dir_, &error) ? 0 : 1);
    }
  }
  for (pid_t child : children) {
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  EXPECT_EQ(entries(root_ + "/cache/vscard"), std::set<std::string>{"soft-card"});
  EXPECT_TRUE(entries(dir_).contains("cert9.db"));
  EXPECT_TRUE(entries(dir_).contains("key4.db"));
}

TEST_F(SoftCardTest, ThreeSelfSignedRsa2048CertificatesWithKeys) {
  std::string error;
  auto card = ensure_soft_card(dir_, &error);
  ASSERT_TRUE(card) << error;
  EXPECT_EQ(card->db_dir, dir_);
  ASSERT_EQ(card->nicknames.size(), 3u);

  std::string config = "sql:" + dir_;
  nss::Context context(NSS_InitContext(config.c_str(), "", "", "", nullptr,
                                       NSS_INIT_READONLY | NSS_INIT_NOROOTINIT));
  ASSERT_TRUE(context) << nss::last_error();
  std::set<std::string> subjects;
  for (const std::string& nickname : card->nicknames) {
    nss::Certificate cert(PK11_FindCertFromNickname(nickname.c_str(), nullptr));
    ASSERT_TRUE(cert) << nickname;
    subjects.insert(cert->subjectName);
    // Self-signed: issuer == subject, and the signature verifies with its own key.
    EXPECT_TRUE(SECITEM_ItemsAreEqual(&cert->derIssuer, &cert->derSubject));
    EXPECT_EQ(CERT_VerifySignedDataWithPublicKeyInfo(&cert->signatureWrap,
                                                     &cert->subjectPublicKeyInfo, nullptr),
              SECSuccess)
        << nss::last_error();
    nss::PublicKey public_key(CERT_ExtractPublicKey(cert.get()));
    ASSERT_TRUE(public_key);
    EXPECT_EQ(public_key->keyType, rsaKey);
    EXPECT_EQ(SECKEY_PublicKeyStrengthInBits(public_key.get()), 2048u);
    nss::PrivateKey key(PK11_FindKeyByAnyCert(cert.get(), nullptr));
    ASSERT_TRUE(key) << nickname << ": no private key";

    // The private key signs, and the certificate's key verifies the signature.
    unsigned char data[] = "vscard soft card";
    SECItem signature{siBuffer, nullptr, 0};
    ASSERT_EQ(SEC_SignData(&signature, data, sizeof data, key.get(),
                           SEC_OID_PKCS1_SHA256_WITH_RSA_ENCRYPTION),
              SECSuccess)
        << nss::last_error();
    EXPECT_EQ(VFY_VerifyData(data, sizeof data, public_key.get(), &signature,
                             SEC_OID_PKCS1_SHA256_WITH_RSA_ENCRYPTION, nullptr),
              SECSuccess);
    SECITEM_FreeItem(&signature, PR_FALSE);
  }
  EXPECT_EQ(subjects.size(), 3u) << "subjects must be distinct";
}

TEST_F(SoftCardTest, SecondCallReusesTheDatabase) {
  std::string error;
  ASSERT_TRUE(ensure_soft_card(dir_, &error)) << error;
  GStatBuf before{};
  ASSERT_EQ(g_stat((dir_ + "/key4.db").c_str(), &before), 0);
  ASSERT_TRUE(ensure_soft_card(dir_, &error)) << error;
  GStatBuf after{};
  ASSERT_EQ(g_stat((dir_ + "/key4.db").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(before.st_mtime, after.st_mtime);
}

TEST_F(SoftCardTest, IncompleteDatabaseIsAClearError) {
  ASSERT_EQ(g_mkdir_with_parents(dir_.c_str(), 0700), 0);
  std::string error;
  EXPECT_FALSE(ensure_soft_card(dir_, &error));
  EXPECT_NE(error.find("remove that directory"), std::string::npos) << error;
}

TEST(SoftCardDir, FollowsXdgCacheHome) {
  // g_get_user_cache_dir() reads XDG_CACHE_HOME once; the test binary's first
  // call sees the environment ctest gave it, whatever it is.
  std::string dir = default_soft_card_dir();
  EXPECT_TRUE(dir.ends_with("/vscard/soft-card")) << dir;
  EXPECT_EQ(dir.rfind(g_get_user_cache_dir(), 0), 0u);
}

}  // namespace
}  // namespace vscclient
