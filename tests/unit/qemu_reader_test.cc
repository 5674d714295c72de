// SPDX-License-Identifier: LGPL-2.1-or-later
// The response sizes QEMU's usb-ccid reader mishandles (vscard/qemu_reader.h).
#include "vscard/qemu_reader.h"

#include <gtest/gtest.h>

namespace {

using vscard::qemu_reader_mishandles_response;

TEST(QemuReader, FlagsExactlyOneFullBulkPacket) {
  // 52 data bytes + SW: a 64-byte CCID message, never released under xHCI.
  EXPECT_TRUE(qemu_reader_mishandles_response(54));
  EXPECT_FALSE(qemu_reader_mishandles_response(53));
  EXPECT_FALSE(qemu_reader_mishandles_response(55));
}

TEST(QemuReader, FlagsResponsesLongerThanTheBulkInBuffer) {
  EXPECT_FALSE(qemu_reader_mishandles_response(374));
  EXPECT_TRUE(qemu_reader_mishandles_response(375));
  EXPECT_TRUE(qemu_reader_mishandles_response(65538));
}

TEST(QemuReader, AcceptsEverythingElseUpToTheLimit) {
  int flagged = 0;
  for (std::size_t n = 0; n <= vscard::kQemuMaxResponseSize; ++n) {
    if (qemu_reader_mishandles_response(n)) ++flagged;
  }
  EXPECT_EQ(flagged, 1);  // only 54
}

}  // namespace
