// SPDX-License-Identifier: LGPL-2.1-or-later
// What vscclient could offer the host, looked up without starting a source:
// the PC/SC readers pcscd knows (with the ATR of the card in each) and the
// tokens and certificates of an NSS database. `vscclient --list` prints it;
// the default card source (no card option, card_sources.h) is chosen from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vscclient {

struct PcscReaderInfo {
  std::string name;
  std::optional<std::vector<std::uint8_t>> atr;  // nullopt: no card (or a mute one)
};
// The readers, or nullopt with `why` set when pcscd cannot be asked.
std::optional<std::vector<PcscReaderInfo>> list_pcsc_readers(std::string* why);

struct NssInventory {
  struct Token {
    std::string name;
    bool present = false;
  };
  struct Certificate {
    std::string nickname;
    std::string subject;
    bool has_key = false;  // a CAC can sign with it
  };
  std::vector<Token> tokens;
  std::vector<Certificate> certificates;
  // The key token has a password: NSS shows no private key before a login,
  // so has_key is false for every certificate (the keys may still be there).
  bool needs_login = false;
};
// The database DIR (sql: format), opened read-only; nullopt with `why` set.
std::optional<NssInventory> list_nss(const std::string& dir, std::string* why);

// The NSS databases a user's certificates usually live in that exist here:
// ~/.pki/nssdb (Debian, Firefox/Chromium's shared db), /etc/pki/nssdb (Fedora,
// libcacard's default).
std::vector<std::string> default_nss_dirs();

}  // namespace vscclient
