// SPDX-License-Identifier: LGPL-2.1-or-later
// Creates the --soft-card NSS database with the NSS API (see soft_card.h).
#include "soft_card.h"

#include <cerrno>
#include <cstring>
#include <ctime>

#include <cryptohi.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <secasn1.h>
#include <secder.h>
#include <secoid.h>

#include "nss_handles.h"

namespace vscclient {
namespace {

constexpr int kKeyBits = 2048;
constexpr unsigned long kPublicExponent = 65537;
// Long enough for a demo or CI machine's lifetime; a fresh cache starts over.
constexpr PRTime kValidityDays = 3650;
constexpr PRTime kMicrosPerDay = PRTime{86400} * PR_USEC_PER_SEC;

std::string fail(std::string* error, std::string text) {
  if (error != nullptr) *error = std::move(text);
  return {};
}

// A random positive serial: distinct certificates from one issuer name are
// still told apart by (issuer, serial) when subjects coincide across caches.
unsigned long random_serial() {
  std::uint32_t value = 0;
  if (PK11_GenerateRandom(reinterpret_cast<unsigned char*>(&value), sizeof value) !=
      SECSuccess) {
    value = static_cast<std::uint32_t>(g_random_int());
  }
  return (value & 0x7FFFFFFFu) | 1u;
}

// One self-signed certificate with a fresh key pair on `slot`.
bool make_certificate(PK11SlotInfo* slot, const SoftCardCert& spec, std::string* error) {
  PK11RSAGenParams params{};
  params.keySizeInBits = kKeyBits;
  params.pe = kPublicExponent;
  SECKEYPublicKey* raw_public = nullptr;
  nss::PrivateKey key(PK11_GenerateKeyPair(slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &params,
                                           &raw_public, PR_TRUE /* token */,
                                           PR_TRUE /* sensitive */, nullptr));
  nss::PublicKey public_key(raw_public);
  if (!key || !public_key) {
    fail(error, std::string("generating an RSA key failed: ") + nss::last_error());
    return false;
  }
  PK11_SetPrivateKeyNickname(key.get(), spec.nickname);

  nss::Name subject(CERT_AsciiToName(spec.subject));
  nss::Spki spki(SECKEY_CreateSubjectPublicKeyInfo(public_key.get()));
  PRTime now = PR_Now();
  nss::Validity validity(CERT_CreateValidity(now - kMicrosPerDay,
                                             now + kValidityDays * kMicrosPerDay));
  if (!subject || !spki || !validity) {
    fail(error, std::string("building a certificate failed: ") + nss::last_error());
    return false;
  }
  nss::CertRequest request(CERT_CreateCertificateRequest(subject.get(), spki.get(), nullptr));
  if (!request) {
    fail(error, std::string("building a certificate request failed: ") + nss::last_error());
    return false;
  }
  nss::Certificate cert(
      CERT_CreateCertificate(random_serial(), subject.get(), validity.get(), request.get()));
  if (!cert) {
    fail(error, std::string("creating a certificate failed: ") + nss::last_error());
    return false;
  }
  PLArenaPool* arena = cert->arena;
  // X.509 v3, so that the key usage extension below is allowed (RFC 5280 4.1.2.1).
  if (SEC_ASN1EncodeInteger(arena, &cert->version, SEC_CERTIFICATE_VERSION_3) == nullptr) {
    fail(error, std::string("setting the certificate version failed: ") + nss::last_error());
    return false;
  }
  void* extensions = CERT_StartCertExtensions(cert.get());
  unsigned char usage = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_ENCIPHERMENT;
  SECItem usage_bits{siBuffer, &usage, 1};
  if (extensions == nullptr ||
      CERT_EncodeAndAddBitStrExtension(extensions, SEC_OID_X509_KEY_USAGE, &usage_bits,
                                       PR_TRUE) != SECSuccess ||
      CERT_FinishExtensions(extensions) != SECSuccess) {
    fail(error, std::string("adding the key usage failed: ") + nss::last_error());
    return false;
  }
  constexpr SECOidTag kAlgorithm = SEC_OID_PKCS1_SHA256_WITH_RSA_ENCRYPTION;
  if (SECOID_SetAlgorithmID(arena, &cert->signature, kAlgorithm, nullptr) != SECSuccess) {
    fail(error, std::string("setting the signature algorithm failed: ") + nss::last_error());
    return false;
  }
  SECItem tbs{siBuffer, nullptr, 0};
  if (SEC_ASN1EncodeItem(arena, &tbs, cert.get(), SEC_ASN1_GET(CERT_CertificateTemplate)) ==
      nullptr) {
    fail(error, std::string("encoding the certificate failed: ") + nss::last_error());
    return false;
  }
  SECItem signed_der{siBuffer, nullptr, 0};
  if (SEC_DerSignData(arena, &signed_der, tbs.data, static_cast<int>(tbs.len), key.get(),
                      kAlgorithm) != SECSuccess) {
    fail(error, std::string("signing the certificate failed: ") + nss::last_error());
    return false;
  }
  // PK11_ImportDERCert links the certificate to the private key generated above
  // through CKA_ID (both derive it from the RSA modulus).
  if (PK11_ImportDERCert(slot, &signed_der, CK_INVALID_HANDLE,
                         const_cast<char*>(spec.nickname), PR_FALSE) != SECSuccess) {
    fail(error, std::string("storing the certificate failed: ") + nss::last_error());
    return false;
  }
  return true;
}

bool populate(const std::string& dir, std::string* error) {
  std::string config = "sql:" + dir;
  nss::Context context(NSS_InitContext(config.c_str(), "", "", "", nullptr,
                                       NSS_INIT_NOROOTINIT));
  if (!context) {
    fail(error, "cannot create an NSS database in " + dir + ": " + nss::last_error());
    return false;
  }
  nss::Slot slot(PK11_GetInternalKeySlot());
  if (!slot) {
    fail(error, std::string("NSS has no internal key slot: ") + nss::last_error());
    return false;
  }
  // An empty password, like `certutil -N --empty-password`: the card's PIN is
  // checked by libcacard against this token, and a demo card needs none.
  if (PK11_NeedUserInit(slot.get()) &&
      PK11_InitPin(slot.get(), nullptr, "") != SECSuccess) {
    fail(error, std::string("initializing the NSS token failed: ") + nss::last_error());
    return false;
  }
  if (PK11_Authenticate(slot.get(), PR_TRUE, nullptr) != SECSuccess) {
    fail(error, std::string("logging in to the NSS token failed: ") + nss::last_error());
    return false;
  }
  for (const SoftCardCert& spec : soft_card_certs()) {
    if (!make_certificate(slot.get(), spec, error)) return false;
  }
  return true;
}

void remove_tree(const std::string& dir) {
  if (GDir* d = g_dir_open(dir.c_str(), 0, nullptr)) {
    while (const char* name = g_dir_read_name(d)) {
      g_autofree char* path = g_build_filename(dir.c_str(), name, nullptr);
      g_remove(path);
    }
    g_dir_close(d);
  }
  g_rmdir(dir.c_str());
}

bool complete(const std::string& dir) {
  g_autofree char* certs = g_build_filename(dir.c_str(), "cert9.db", nullptr);
  g_autofree char* keys = g_build_filename(dir.c_str(), "key4.db", nullptr);
  return g_file_test(certs, G_FILE_TEST_IS_REGULAR) && g_file_test(keys, G_FILE_TEST_IS_REGULAR);
}

}  // namespace

const std::vector<SoftCardCert>& soft_card_certs() {
  static const std::vector<SoftCardCert> certs = {
      {"vscard-soft-id", "CN=vscard soft card ID,OU=soft-card,O=vscard"},
      {"vscard-soft-signature", "CN=vscard soft card signature,OU=soft-card,O=vscard"},
      {"vscard-soft-encryption", "CN=vscard soft card encryption,OU=soft-card,O=vscard"},
  };
  return certs;
}

std::string default_soft_card_dir() {
  g_autofree char* dir = g_build_filename(g_get_user_cache_dir(), "vscard", "soft-card", nullptr);
  return dir;
}

std::optional<SoftCard> ensure_soft_card(const std::string& dir, std::string* error) {
  SoftCard card;
  card.db_dir = dir;
  for (const SoftCardCert& spec : soft_card_certs()) card.nicknames.emplace_back(spec.nickname);

  if (g_file_test(dir.c_str(), G_FILE_TEST_IS_DIR)) {
    if (complete(dir)) return card;
    fail(error, "the soft-card database " + dir +
                    " is incomplete (no cert9.db/key4.db); remove that directory and "
                    "run again to recreate it");
    return std::nullopt;
  }

  g_autofree char* parent = g_path_get_dirname(dir.c_str());
  if (g_mkdir_with_parents(parent, 0700) != 0) {
    fail(error, std::string("cannot create ") + parent + ": " + std::strerror(errno));
    return std::nullopt;
  }
  std::string tmp_template = dir + ".tmp-XXXXXX";
  if (g_mkdtemp_full(tmp_template.data(), 0700) == nullptr) {
    fail(error, "cannot create a temporary directory beside " + dir + ": " +
                    std::strerror(errno));
    return std::nullopt;
  }
  const std::string& tmp = tmp_template;
  g_message("creating the soft-card NSS database in %s (once)", dir.c_str());
  if (!populate(tmp, error)) {
    remove_tree(tmp);
    return std::nullopt;
  }
  // rename() is atomic: the first process to finish wins; a loser finds the
  // winner's complete database in place (EEXIST/ENOTEMPTY) and uses it.
  if (g_rename(tmp.c_str(), dir.c_str()) != 0) {
    int saved = errno;
    remove_tree(tmp);
    if ((saved == EEXIST || saved == ENOTEMPTY) && complete(dir)) return card;
    fail(error, "cannot move the soft-card database into " + dir + ": " + std::strerror(saved));
    return std::nullopt;
  }
  return card;
}

}  // namespace vscclient
