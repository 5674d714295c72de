// SPDX-License-Identifier: LGPL-2.1-or-later
// When vscclient warns that a connection is not encrypted: TCP without TLS to a
// host that is not this machine. PIN-bearing VERIFY commands cross such a link
// in the clear (DESIGN: security defaults).
#pragma once

#include <string>

#include "vscard/address.h"

namespace vscclient {

// "localhost", *.localhost, 127.0.0.0/8 and ::1 are loopback; a name that
// would need resolving is not (the warning errs on the side of showing).
bool is_loopback_host(const std::string& host);

bool needs_plaintext_warning(const vscard::Address& address, bool tls);

}  // namespace vscclient
