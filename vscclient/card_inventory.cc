// SPDX-License-Identifier: LGPL-2.1-or-later
// Listing readers, tokens and certificates (see card_inventory.h).
#include "card_inventory.h"

#include <glib.h>

#include "nss_handles.h"
#include "pcsc_handles.h"

namespace vscclient {

std::optional<std::vector<PcscReaderInfo>> list_pcsc_readers(std::string* why) {
  PcscContext context;
  LONG rv = context.establish();
  if (rv != SCARD_S_SUCCESS) {
    *why = "pcscd cannot be reached: " + pcsc_error_text(rv);
    return std::nullopt;
  }
  DWORD size = 0;
  rv = SCardListReaders(context.get(), nullptr, nullptr, &size);
  if (rv == SCARD_E_NO_READERS_AVAILABLE) return std::vector<PcscReaderInfo>{};
  std::string buffer;
  if (rv == SCARD_S_SUCCESS) {
    buffer.assign(size, '\0');
    rv = SCardListReaders(context.get(), nullptr, buffer.data(), &size);
  }
  if (rv == SCARD_E_NO_READERS_AVAILABLE) return std::vector<PcscReaderInfo>{};
  if (rv != SCARD_S_SUCCESS) {
    *why = "cannot list the PC/SC readers: " + pcsc_error_text(rv);
    return std::nullopt;
  }
  std::vector<PcscReaderInfo> readers;
  for (auto& name : split_multistring(buffer.data(), size)) {
    // The current state, without connecting to the card: a zero timeout and
    // SCARD_STATE_UNAWARE return at once with the ATR of a present card.
    SCARD_READERSTATE state{};
    state.szReader = name.c_str();
    state.dwCurrentState = SCARD_STATE_UNAWARE;
    PcscReaderInfo info{name, std::nullopt};
    if (SCardGetStatusChange(context.get(), 0, &state, 1) == SCARD_S_SUCCESS &&
        (state.dwEventState & SCARD_STATE_PRESENT) != 0 &&
        (state.dwEventState & SCARD_STATE_MUTE) == 0) {
      info.atr = std::vector<std::uint8_t>(state.rgbAtr, state.rgbAtr + state.cbAtr);
    }
    readers.push_back(std::move(info));
  }
  return readers;
}

std::optional<NssInventory> list_nss(const std::string& dir, std::string* why) {
  const std::string config = dir.find(':') == std::string::npos ? "sql:" + dir : dir;
  nss::Context context(NSS_InitContext(config.c_str(), "", "", "", nullptr,
                                       NSS_INIT_READONLY | NSS_INIT_NOROOTINIT));
  if (!context) {
    *why = "cannot open the NSS database " + dir + ": " + nss::last_error();
    return std::nullopt;
  }
  NssInventory inventory;
  if (PK11SlotList* slots = PK11_GetAllTokens(CKM_INVALID_MECHANISM, PR_FALSE, PR_FALSE, nullptr)) {
    for (PK11SlotListElement* e = slots->head; e != nullptr; e = e->next) {
      inventory.tokens.push_back({PK11_GetTokenName(e->slot), PK11_IsPresent(e->slot) != 0});
    }
    PK11_FreeSlotList(slots);
  }
  if (nss::Slot key_slot{PK11_GetInternalKeySlot()}) {
    inventory.needs_login =
        PK11_NeedLogin(key_slot.get()) != 0 && PK11_IsLoggedIn(key_slot.get(), nullptr) == 0;
  }
  nss::CertList certs(PK11_ListCerts(PK11CertListUnique, nullptr));
  if (certs) {
    for (CERTCertListNode* node = CERT_LIST_HEAD(certs.get()); !CERT_LIST_END(node, certs.get());
         node = CERT_LIST_NEXT(node)) {
      CERTCertificate* cert = node->cert;
      SECKEYPrivateKey* key = PK11_FindKeyByAnyCert(cert, nullptr);
      inventory.certificates.push_back({cert->nickname != nullptr ? cert->nickname : "",
                                        cert->subjectName != nullptr ? cert->subjectName : "",
                                        key != nullptr});
      if (key != nullptr) SECKEY_DestroyPrivateKey(key);
    }
  }
  return inventory;
}

std::vector<std::string> default_nss_dirs() {
  std::vector<std::string> dirs;
  gchar* home = g_build_filename(g_get_home_dir(), ".pki", "nssdb", nullptr);
  for (std::string dir : {std::string(home), std::string("/etc/pki/nssdb")}) {
    gchar* db = g_build_filename(dir.c_str(), "cert9.db", nullptr);
    if (g_file_test(db, G_FILE_TEST_EXISTS)) dirs.push_back(dir);
    g_free(db);
  }
  g_free(home);
  return dirs;
}

}  // namespace vscclient
