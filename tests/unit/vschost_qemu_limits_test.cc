// SPDX-License-Identifier: LGPL-2.1-or-later
// vschost --mode qemu's warnings about what QEMU's usb-ccid would mishandle
// (vschost/qemu_limits.cc): response sizes by vscard::qemu_reader_mishandles_response,
// ATRs that offer no T=0, and the observer that turns host events into warnings.
#include "qemu_limits.h"

#include <gtest/gtest.h>

#include <vector>

#include "vscard/qemu_reader.h"

namespace vschost {
namespace {

std::vector<std::uint8_t> response_of(std::size_t n) {
  std::vector<std::uint8_t> r(n, 0x41);
  if (n >= 2) {
    r[n - 2] = 0x90;
    r[n - 1] = 0x00;
  }
  return r;
}

TEST(QemuLimits, ResponseSizesFollowTheSharedRule) {
  for (std::size_t n = 0; n <= 1000; ++n) {
    auto w = qemu_response_warning(response_of(n));
    EXPECT_EQ(w.has_value(), vscard::qemu_reader_mishandles_response(n)) << n;
  }
  EXPECT_TRUE(qemu_response_warning(response_of(65538)).has_value());
}

TEST(QemuLimits, FullPacketResponseIsNamed) {
  auto w = qemu_response_warning(response_of(54));  // 10-byte header + 54 = 64
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, "response_full_packet");
  EXPECT_EQ(w->size, 54u);
  EXPECT_NE(w->message.find("54 bytes"), std::string::npos) << w->message;
  EXPECT_NE(w->message.find("qemu-xhci"), std::string::npos) << w->message;
}

TEST(QemuLimits, TooLongResponseIsNamed) {
  EXPECT_FALSE(qemu_response_warning(response_of(374)));
  auto w = qemu_response_warning(response_of(375));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, "response_too_long");
  EXPECT_EQ(w->size, 375u);
  EXPECT_NE(w->message.find("374"), std::string::npos) << w->message;
}

TEST(QemuLimits, OrdinaryResponsesPass) {
  for (std::size_t n : {0u, 2u, 53u, 55u, 118u, 258u, 372u, 374u}) {
    if (vscard::qemu_reader_mishandles_response(n)) continue;  // the rule may grow
    EXPECT_FALSE(qemu_response_warning(response_of(n))) << n;
  }
}

TEST(QemuLimits, AtrWithoutT0Warns) {
  // vicc's iso7816 card: TD1 = 81 and TD2 = 01 both indicate T=1; no T=0.
  const std::vector<std::uint8_t> t1_only = {0x3B, 0x95, 0x13, 0x81, 0x01, 0x80,
                                             0x73, 0xFF, 0x01, 0x00, 0x0B};
  auto w = qemu_atr_warning(t1_only);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, "atr_without_t0");
  EXPECT_EQ(w->size, t1_only.size());
  EXPECT_NE(w->message.find("3B951381018073FF01000B"), std::string::npos) << w->message;
  EXPECT_NE(w->message.find("T=1"), std::string::npos) << w->message;
}

TEST(QemuLimits, AtrOfferingT0Passes) {
  EXPECT_FALSE(qemu_atr_warning(std::vector<std::uint8_t>{0x3B, 0x02, 0x14, 0x50}));  // T=0 only
  // TD1 = 0x80 (T=0), TD2 = 0x01 (T=1), TCK.
  EXPECT_FALSE(qemu_atr_warning(std::vector<std::uint8_t>{0x3B, 0x80, 0x80, 0x01, 0x01}));
}

TEST(QemuLimits, UnparsableAtrGetsNoT0Warning) {
  EXPECT_FALSE(qemu_atr_warning(std::vector<std::uint8_t>{}));
  EXPECT_FALSE(qemu_atr_warning(std::vector<std::uint8_t>{0x12, 0x34}));
  // T=1 offered but the TCK is wrong: invalid, reported by card_inserted's atr_error.
  EXPECT_FALSE(qemu_atr_warning(std::vector<std::uint8_t>{0x3B, 0x81, 0x01, 0x00}));
}

TEST(QemuLimitsWatch, WarnsForAcceptedAtrAndEachBadResponse) {
  std::vector<std::pair<ReaderRef, std::string>> seen;
  QemuLimitsWatch watch([&](ReaderRef r, const QemuLimitWarning& w) { seen.emplace_back(r, w.kind); });
  const std::vector<std::uint8_t> t1_only = {0x3B, 0x95, 0x13, 0x81, 0x01, 0x80,
                                             0x73, 0xFF, 0x01, 0x00, 0x0B};
  const std::vector<std::uint8_t> command = {0x00, 0xB0, 0x00, 0x00, 0x00};
  const ReaderRef r{3, 1};
  watch.card_inserted(r, t1_only, /*accepted=*/false);  // QEMU refused it: nothing reaches a guest
  EXPECT_TRUE(seen.empty());
  watch.card_inserted(r, t1_only, true);
  watch.apdu_exchanged(r, command, response_of(54), std::nullopt, {});
  watch.apdu_exchanged(r, command, response_of(56), std::nullopt, {});
  watch.apdu_exchanged(r, command, {}, 1u, {});  // an Error message is not a response
  watch.apdu_exchanged(r, command, response_of(600), std::nullopt, {});
  watch.apdu_exchanged(r, command, response_of(54), std::nullopt, {});
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].second, "atr_without_t0");
  EXPECT_EQ(seen[1].second, "response_full_packet");
  EXPECT_EQ(seen[2].second, "response_too_long");
  EXPECT_EQ(seen[3].second, "response_full_packet");
  for (const auto& s : seen) EXPECT_EQ(s.first, r);
}

}  // namespace
}  // namespace vschost
