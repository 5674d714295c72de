// SPDX-License-Identifier: LGPL-2.1-or-later
// libcacard's emulator argument string (the anchor's `-e`), as vscclient builds
// and checks it. libcacard's vcard_emul_options() stays the parser of record;
// this file only builds the string for -c/--cert/--soft-card and pulls out the
// parts vscclient must check itself to give clear errors (the database and the
// certificate nicknames), since libcacard silently skips a missing certificate.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vscclient {

// Default database of libcacard's vscclient for -c and of vcard_emul_init.
inline constexpr const char* kAnchorDefaultDb = "/etc/pki/nssdb";

// The string the anchor builds for `-c NAME...`: EMUL_ARGS (default
// db="/etc/pki/nssdb") followed by ",soft=(,Virtual Reader,CAC,,NAME1,NAME2,...)".
// (The anchor also leaves a trailing comma, i.e. an empty last nickname that
// libcacard skips; it is not reproduced.)
std::string build_soft_emul_args(const std::optional<std::string>& emul_args,
                                 const std::vector<std::string>& cert_names);

// Whether libcacard's soft=(...) list can carry `nickname`: its parser ends a
// name at ',' or ')' and skips the blanks before it, with no quoting
// (summarize_emul_args mirrors it), so "Doe, John (ID)" cannot be named.
bool soft_cert_name_fits(std::string_view nickname);
// Why `nickname` does not fit, and the way out (unescaped: for the log writer).
std::string soft_cert_name_problem(std::string_view nickname);

// `db="DIR"` quoting as libcacard expects it (no quote may appear inside).
std::string db_emul_arg(const std::string& db);

struct EmulArgsSummary {
  std::optional<std::string> db;               // the db="..." value, if given
  std::vector<std::string> soft_cert_names;    // nicknames from every soft=(...)
  std::vector<std::string> soft_slot_names;    // each soft=(...)'s slot ("" = NSS's own)
  bool use_hw = true;                          // libcacard's default is use_hw=yes
  bool passthru = false;
};

// Reads `args` the way libcacard's vcard_emul_options() tokenizes it. Returns
// nullopt, with `error` set, for a string libcacard would reject or mis-read
// (libcacard 2.8 reads past the end of a soft=( list without its closing
// parenthesis, so vscclient refuses such a string before handing it over).
std::optional<EmulArgsSummary> summarize_emul_args(const std::string& args,
                                                   std::string* error);

// The directory part of an NSS configuration string ("sql:/x" -> "/x").
std::string nss_db_directory(const std::string& db);

}  // namespace vscclient
