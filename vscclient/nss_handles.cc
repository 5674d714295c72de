// SPDX-License-Identifier: LGPL-2.1-or-later
// NSS error text for log lines.
#include "nss_handles.h"

#include <prerror.h>

namespace vscclient::nss {

const char* last_error() {
  PRErrorCode code = PR_GetError();
  const char* text = PR_ErrorToString(code, PR_LANGUAGE_I_DEFAULT);
  if (text != nullptr && *text != '\0') return text;
  const char* name = PR_ErrorToName(code);
  return name != nullptr ? name : "unknown NSS error";
}

}  // namespace vscclient::nss
