// SPDX-License-Identifier: LGPL-2.1-or-later
// --soft-card: an NSS database with three self-signed RSA-2048 certificates and
// their private keys, created once per user and emulated as a CAC by libcacard.
//
// The database lives in $XDG_CACHE_HOME/vscard/soft-card (~/.cache/vscard/soft-card
// when XDG_CACHE_HOME is unset). It is built in a temporary sibling directory and
// renamed into place, so two vscclient processes starting at once both end up
// using one complete database.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace vscclient {

struct SoftCard {
  std::string db_dir;                  // directory holding cert9.db/key4.db
  std::vector<std::string> nicknames;  // the three certificates, in card order
};

// The certificates' nicknames and subjects, in card order (CAC ID, signature,
// encryption certificate).
struct SoftCardCert {
  const char* nickname;
  const char* subject;
};
const std::vector<SoftCardCert>& soft_card_certs();

// $XDG_CACHE_HOME/vscard/soft-card (or ~/.cache/...).
std::string default_soft_card_dir();

// Returns the soft card in `dir`, creating the database first if `dir` does not
// exist. On failure returns nullopt and sets `error` to a sentence saying what
// went wrong and what to do. Uses the NSS API directly (no certutil). Call before
// libcacard initializes NSS: the creation uses its own NSS context and shuts it
// down again.
std::optional<SoftCard> ensure_soft_card(const std::string& dir, std::string* error);

}  // namespace vscclient
