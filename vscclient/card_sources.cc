// SPDX-License-Identifier: LGPL-2.1-or-later
// Choosing the card source (see card_sources.h).
#include "card_sources.h"

#include <glib.h>

#include <cstdio>
#include <utility>

#include "cacard_source.h"
#include "card_inventory.h"
#include "emul_args.h"
#include "pcsc_source.h"
#include "soft_card.h"
#include "pcsc_pattern.h"
#include "vicc_source.h"
#include "vscard/apdu.h"
#include "vscard/printable.h"

namespace vscclient {

namespace {

// A CAC holds up to three PKI certificates in libcacard's emulation.
constexpr std::size_t kMaxCacCertificates = 3;

std::unique_ptr<CardSource> pcsc_source(std::string pattern, const Options& options) {
  PcscSource::Options pcsc;
  pcsc.pattern = std::move(pattern);
  pcsc.exclusive = options.exclusive;
  pcsc.first_reader_only = options.compare_pcsc;
  pcsc.reset_card = options.pcsc_reset;
  return std::make_unique<PcscSource>(std::move(pcsc));
}

// No card option: the most useful source on this machine (card_sources.h).
std::unique_ptr<CardSource> default_source(const Options& options, std::string* error) {
  std::string pcsc_why;
  auto readers = list_pcsc_readers(&pcsc_why);
  bool any_card = false;
  if (readers) {
    for (const auto& r : *readers) any_card = any_card || r.atr.has_value();
  }
  if (readers && any_card) {
    g_message("no card option: bridging the %zu PC/SC reader(s) pcscd has, as --pcsc does "
              "(vscclient --list shows them)", readers->size());
    return pcsc_source("", options);
  }
  // A database with a password hides its keys until a login, which needs the
  // password: vscclient has none to give (libcacard logs in with the PIN the
  // guest sends in VERIFY), so it names the options that use such a database.
  std::string locked;
  for (const std::string& dir : default_nss_dirs()) {
    std::string why;
    auto nss = list_nss(dir, &why);
    if (!nss) {
      g_debug("%s", why.c_str());
      continue;
    }
    if (nss->needs_login && !nss->certificates.empty() && locked.empty()) {
      locked = "; " + dir + " has a password, which hides its keys: name its certificates "
               "with --nss-db " + dir + " -c NAME (the PIN the guest gives is then the "
               "database password)";
    }
    std::vector<std::string> nicknames;
    for (const auto& cert : nss->certificates) {
      if (!cert.has_key || cert.nickname.empty() || nicknames.size() >= kMaxCacCertificates) continue;
      if (!soft_cert_name_fits(cert.nickname)) {
        g_message("no card option: skipping a certificate in %s: %s", dir.c_str(),
                  soft_cert_name_problem(cert.nickname).c_str());
        continue;
      }
      nicknames.push_back(cert.nickname);
    }
    if (nicknames.empty()) continue;
    std::string names;
    for (const auto& n : nicknames) names += (names.empty() ? "" : ", ") + n;
    g_message("no card option: emulating a CAC with the certificates %s from %s, as --nss-db "
              "%s -c NAME... does", names.c_str(), dir.c_str(), dir.c_str());
    return std::make_unique<CacardSource>(
        "use_hw=no " + build_soft_emul_args(db_emul_arg("sql:" + dir), nicknames));
  }
  if (readers && !readers->empty()) {
    g_message("no card option: bridging the %zu PC/SC reader(s) pcscd has, as --pcsc does; "
              "none holds a card yet%s", readers->size(), locked.c_str());
    return pcsc_source("", options);
  }
  *error = "no card to offer: " +
           (readers ? std::string("pcscd has no reader") : pcsc_why) +
           ", and no NSS database with a certificate and its key in ~/.pki/nssdb or "
           "/etc/pki/nssdb" + locked + "; add --soft-card (a demo CAC), --pcsc, --vicc, or "
           "--nss-db DIR -c NAME (vscclient --list shows what this machine has)";
  return nullptr;
}

}  // namespace

std::unique_ptr<CardSource> make_card_source(const Options& options, std::string* error) {
  if (options.vicc || !options.vicc_connect.empty()) {
    // --vicc / --vicc-connect: vpcd card programs, no pcscd (docs/vicc.md).
    ViccSource::Options vicc;
    vicc.listen = options.vicc;
    vicc.connect = options.vicc_connect;
    vicc.timeout = options.vicc_timeout;
    return std::make_unique<ViccSource>(std::move(vicc));
  }
  if (options.pcsc || options.compare_pcsc) {
    // --pcsc: raw APDUs to local PC/SC readers (docs/pcsc.md); -p keeps the
    // anchor's meaning, the card in the first reader.
    return pcsc_source(options.pcsc.value_or(""), options);
  }
  if (options.soft_card) {
    auto card = ensure_soft_card(default_soft_card_dir(), error);
    if (!card) {
      *error = "--soft-card: " + *error;
      return nullptr;
    }
    g_debug("soft card database: %s", card->db_dir.c_str());
    // use_hw=no: the soft card only, no PKCS#11 modules scanned for tokens.
    return std::make_unique<CacardSource>(
        "use_hw=no " + build_soft_emul_args(db_emul_arg("sql:" + card->db_dir), card->nicknames));
  }
  if (!options.card_source_given()) return default_source(options, error);
  for (const std::string& name : options.cert_names) {
    if (!soft_cert_name_fits(name)) {
      *error = "-c: " + soft_cert_name_problem(name);
      return nullptr;
    }
  }
  return std::make_unique<CacardSource>(emul_args_for(options));
}

int print_inventory(const Options& options) {
  std::string why;
  std::printf("PC/SC readers:\n");
  if (auto readers = list_pcsc_readers(&why)) {
    if (readers->empty()) std::printf("  none (pcscd has no reader)\n");
    ReaderPattern pattern(options.pcsc.value_or(""));
    for (const auto& r : *readers) {
      std::printf("  %s: %s%s\n", vscard::printable(r.name).c_str(),
                  r.atr ? ("card, ATR " + vscard::to_hex(*r.atr)).c_str() : "no card",
                  options.pcsc && !options.pcsc->empty() && pattern.matches(r.name)
                      ? ("  (matches --pcsc=" + vscard::printable(*options.pcsc) + ")").c_str()
                      : "");
    }
  } else {
    std::printf("  none: %s\n", vscard::printable(why).c_str());
  }
  std::vector<std::string> dirs =
      options.nss_db ? std::vector<std::string>{*options.nss_db} : default_nss_dirs();
  if (dirs.empty()) {
    std::printf("NSS: no database in ~/.pki/nssdb or /etc/pki/nssdb (--nss-db DIR names "
                "another)\n");
  }
  for (const std::string& dir : dirs) {
    std::printf("NSS database %s:\n", vscard::printable(dir).c_str());
    auto nss = list_nss(dir, &why);
    if (!nss) {
      std::printf("  %s\n", vscard::printable(why).c_str());
      continue;
    }
    for (const auto& t : nss->tokens) {
      std::printf("  token: %s%s\n", vscard::printable(t.name).c_str(),
                  t.present ? "" : " (not present)");
    }
    if (nss->needs_login) {
      std::printf("  password-protected: private keys are hidden until a login (-c NAME can "
                  "still use them: the guest's PIN is the database password)\n");
    }
    if (nss->certificates.empty()) std::printf("  no certificates\n");
    for (const auto& c : nss->certificates) {
      std::printf("  certificate: %s  %s%s\n", vscard::printable(c.nickname).c_str(),
                  vscard::printable(c.subject).c_str(),
                  c.has_key ? "  (with its private key: -c can use it)" : "");
    }
  }
  std::printf("--soft-card: a demo CAC, always available\n");
  return 0;
}

}  // namespace vscclient
