// SPDX-License-Identifier: LGPL-2.1-or-later
// Builds and checks libcacard emulator argument strings (see emul_args.h).
#include "emul_args.h"

#include <cctype>
#include <string_view>

namespace vscclient {
namespace {

// libcacard's vcard_emul_options() skips leading isspace() and stops some
// values at the next blank; these mirror its strip() and find_blank().
std::size_t strip(std::string_view s, std::size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}
std::size_t find_blank(std::string_view s, std::size_t i) {
  while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}
bool starts_with_at(std::string_view s, std::size_t i, std::string_view prefix) {
  return s.substr(i, prefix.size()) == prefix;
}

std::nullopt_t fail(std::string* error, std::string text) {
  if (error != nullptr) *error = std::move(text);
  return std::nullopt;
}

}  // namespace

std::string db_emul_arg(const std::string& db) { return "db=\"" + db + "\""; }

std::string build_soft_emul_args(const std::optional<std::string>& emul_args,
                                 const std::vector<std::string>& cert_names) {
  // libcacard's vscclient.c: emul_args (default db="/etc/pki/nssdb") + SOFT_STRING
  // ",soft=(,Virtual Reader,CAC,," + the names. An empty slot name means NSS's
  // internal key slot (PK11_FindSlotByName).
  std::string out = emul_args.value_or(db_emul_arg(kAnchorDefaultDb));
  out += ",soft=(,Virtual Reader,CAC,,";
  for (std::size_t i = 0; i < cert_names.size(); ++i) {
    if (i > 0) out += ',';
    out += cert_names[i];
  }
  out += ')';
  return out;
}

bool soft_cert_name_fits(std::string_view nickname) {
  return !nickname.empty() && nickname.find_first_of(",)") == std::string_view::npos &&
         !std::isspace(static_cast<unsigned char>(nickname.front()));
}

std::string soft_cert_name_problem(std::string_view nickname) {
  return "the certificate nickname '" + std::string(nickname) +
         "' cannot be passed to libcacard, whose list of names ends a name at ',' or ')' and "
         "drops leading blanks; give it another nickname (certutil --rename -d DIR -n OLD "
         "--new-n NEW)";
}

std::string nss_db_directory(const std::string& db) {
  for (std::string_view prefix : {"sql:", "dbm:", "extern:", "rdb:", "multiaccess:"}) {
    if (db.starts_with(prefix)) return db.substr(prefix.size());
  }
  return db;
}

std::optional<EmulArgsSummary> summarize_emul_args(const std::string& text,
                                                   std::string* error) {
  std::string_view s = text;
  EmulArgsSummary summary;
  std::size_t i = 0;
  while (true) {
    i = strip(s, i);
    if (i >= s.size()) break;
    if (s[i] == ',') {
      ++i;
      continue;
    }
    if (starts_with_at(s, i, "soft=")) {
      i = strip(s, i + 5);
      if (i >= s.size() || s[i] != '(') return fail(error, "soft= must be followed by '('");
      i = strip(s, i + 1);
      // slot name, reader name, card type, card parameters: each ends at ','.
      for (int field = 0; field < 4; ++field) {
        std::size_t end = s.find_first_of(",)", i);
        if (end == std::string_view::npos || s[end] == ')') {
          return fail(error, "soft=(...) needs slot name, reader name, card type, "
                             "parameters and at least one certificate name");
        }
        if (field == 0) summary.soft_slot_names.emplace_back(s.substr(i, end - i));
        i = strip(s, end + 1);
      }
      if (i >= s.size()) return fail(error, "soft=(...) has no certificate names");
      std::size_t close = s.find(')', i);
      if (close == std::string_view::npos) {
        return fail(error, "soft=(... is missing its closing ')'");
      }
      while (true) {
        std::size_t end = s.find_first_of(",)", i);
        summary.soft_cert_names.emplace_back(s.substr(i, end - i));
        if (s[end] == ')') {
          i = end + 1;
          break;
        }
        i = strip(s, end + 1);
        // strip() may step over the ')' only if it were whitespace; it is not.
      }
    } else if (starts_with_at(s, i, "use_hw=")) {
      i = strip(s, i + 7);
      char c = i < s.size() ? s[i] : '\0';
      summary.use_hw = !(c == '0' || c == 'N' || c == 'n' || c == 'F');
      i = find_blank(s, i);
    } else if (starts_with_at(s, i, "hw_type=") || starts_with_at(s, i, "hw_params=")) {
      i = find_blank(s, i);
    } else if (starts_with_at(s, i, "db=")) {
      if (summary.db) return fail(error, "db= is given twice");
      i = strip(s, i + 3);
      if (i >= s.size() || s[i] != '"') return fail(error, "db= needs a quoted path: db=\"DIR\"");
      ++i;
      std::size_t end = s.find_first_of("\"\n", i);
      if (end == std::string_view::npos) return fail(error, "db=\" is missing its closing quote");
      summary.db = std::string(s.substr(i, end - i));
      i = end + 1;
    } else if (starts_with_at(s, i, "nssemul")) {
      summary.use_hw = true;
      i = find_blank(s, i + 7);
    } else if (starts_with_at(s, i, "passthru")) {
      summary.use_hw = true;
      summary.passthru = true;
      i = find_blank(s, i + 8);
    } else {
      return fail(error, "unknown emulator argument at '" + std::string(s.substr(i)) + "'");
    }
  }
  // Drop empty names (the anchor's trailing comma): libcacard skips them too.
  std::erase(summary.soft_cert_names, std::string());
  return summary;
}

}  // namespace vscclient
