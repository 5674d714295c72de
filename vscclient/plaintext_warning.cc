// SPDX-License-Identifier: LGPL-2.1-or-later
// Plaintext-connection warning rule (see plaintext_warning.h).
#include "plaintext_warning.h"

#include <gio/gio.h>

namespace vscclient {

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  GInetAddress* address = g_inet_address_new_from_string(host.c_str());
  if (address == nullptr) return false;
  bool loopback = g_inet_address_get_is_loopback(address);
  g_object_unref(address);
  return loopback;
}

bool needs_plaintext_warning(const vscard::Address& address, bool tls) {
  return !tls && !address.is_unix() && !is_loopback_host(address.host);
}

}  // namespace vscclient
