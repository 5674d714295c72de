// SPDX-License-Identifier: LGPL-2.1-or-later
// Reading a script file: unreadable files and syntax errors become one line
// ("x.vsc:3: expected hex digits, found '0G'") for the command line.
#pragma once

#include <optional>
#include <string>

#include "script.h"

namespace vschost {

std::optional<Script> load_script(const std::string& path, std::string& error);

}  // namespace vschost
