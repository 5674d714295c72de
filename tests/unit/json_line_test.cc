// SPDX-License-Identifier: LGPL-2.1-or-later
// vschost's JSON layer (vschost/json_line.cc): a JSON line always parses.
#include "json_line.h"

#include <gtest/gtest.h>

namespace vschost {
namespace {

// Peer text in JSON values goes through vscard::printable() first (the one
// escaping rule, tests/unit/printable_test.cc); json_quote is the JSON layer.
TEST(JsonQuote, ControlBytesAreEscaped) {
  EXPECT_EQ(json_quote("a\x1b" "b\"\\"), "\"a\\u001bb\\\"\\\\\"");
}

}  // namespace
}  // namespace vschost
