// SPDX-License-Identifier: LGPL-2.1-or-later
// run(): vschost's main loop, from parsed options to an exit status.
#pragma once

#include "options.h"

namespace vschost {

// 0: every script step passed (or a clean stop without a script); 1: a step
// failed, timed out or never ran; 2: setup error (printed on stderr).
int run(const Options& options);

}  // namespace vschost
