// SPDX-License-Identifier: LGPL-2.1-or-later
#include "pcsc_pattern.h"

#include <glib.h>

namespace vscclient {

bool ReaderPattern::is_glob() const {
  return pattern_.find_first_of("*?") != std::string::npos;
}

bool ReaderPattern::matches(std::string_view reader) const {
  if (pattern_.empty()) return true;
  if (is_glob()) {
    std::string name(reader);
    return g_pattern_match_simple(pattern_.c_str(), name.c_str());
  }
  return reader.find(pattern_) != std::string_view::npos;
}

}  // namespace vscclient
