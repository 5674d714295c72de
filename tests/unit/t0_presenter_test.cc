// SPDX-License-Identifier: LGPL-2.1-or-later
// T0Presenter against scripted cards: the guest's side behaves like T=0
// middleware (OpenSC's sc_transmit: 61xx -> GET RESPONSE Le=xx, 6Cxx to a GET
// RESPONSE -> the same with P3=xx), the card's side like a T=1 card (strict or
// lenient about Le) or a T=0 card. Each test checks what the guest receives and
// what the card was sent, never how the presenter gets there.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "vscard/apdu.h"
#include "vscard/atr.h"
#include "vscard/qemu_reader.h"
#include "vscard/t0_presenter.h"

namespace vscard {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes hex(std::string_view text) {
  auto bytes = from_hex(text);
  EXPECT_TRUE(bytes.has_value()) << text;
  return bytes.value_or(Bytes{});
}

Bytes pattern(std::size_t size, std::uint8_t seed = 0) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(i * 7 + seed);
  return out;
}

Bytes with_sw(Bytes data, std::uint16_t sw) {
  data.push_back(static_cast<std::uint8_t>(sw >> 8));
  data.push_back(static_cast<std::uint8_t>(sw));
  return data;
}

const char* const kViccT1 = "3B 95 13 81 01 80 73 FF 01 00 0B";
const char* const kYubiKeyLike = "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40";
// QEMU's DEFAULT_ATR (ccid-card-passthru.c): offers T=0 and T=1.
const char* const kAthenaT0T1 = "3B D5 18 FF 80 91 FE 1F C3 80 73 C8 21 13 08";

// A card: answers each command with a function of it, and records what it got.
struct ScriptedCard {
  std::function<Bytes(const Bytes&)> answer;
  std::vector<Bytes> received;
  Bytes transmit(const Bytes& command) {
    received.push_back(command);
    return answer(command);
  }
};

// One guest command through the presenter: the card answers every ToCard.
// Fails the test (and stops) when the presenter keeps the card busy for more
// than `limit` transmits.
Bytes exchange(T0Presenter& presenter, ScriptedCard& card, const Bytes& command,
               unsigned limit = 1000) {
  T0Presenter::Step step = presenter.on_command(command);
  for (unsigned i = 0; i <= limit; ++i) {
    if (auto* guest = std::get_if<T0Presenter::ToGuest>(&step)) return guest->response;
    const Bytes to_card = std::get<T0Presenter::ToCard>(step).command;
    step = presenter.on_card_response(card.transmit(to_card));
  }
  ADD_FAILURE() << "the presenter did not answer the guest after " << limit << " card transmits";
  return {};
}

// The guest's T=0 middleware: sends `command`, follows 61xx with GET RESPONSE
// and 6Cxx to a GET RESPONSE with the corrected P3; returns the data + final SW
// and checks that QEMU would carry every response the guest got.
struct GuestResult {
  Bytes response;  // all data + the final SW
  unsigned guest_round_trips = 0;
};
GuestResult guest_transmit(T0Presenter& presenter, ScriptedCard& card, const Bytes& command) {
  GuestResult result;
  Bytes next = command;
  for (unsigned rounds = 0; rounds < 2000; ++rounds) {
    Bytes reply = exchange(presenter, card, next);
    ++result.guest_round_trips;
    if (presenter.shaping()) {
      EXPECT_FALSE(qemu_reader_mishandles_response(reply.size()))
          << "the guest got a response of " << reply.size() << " bytes";
    }
    if (reply.size() < 2) {
      result.response.insert(result.response.end(), reply.begin(), reply.end());
      return result;
    }
    const std::uint8_t sw1 = reply[reply.size() - 2], sw2 = reply[reply.size() - 1];
    const bool was_get_response = next.size() == 5 && next[1] == 0xC0;
    if (sw1 == 0x61) {
      result.response.insert(result.response.end(), reply.begin(), reply.end() - 2);
      next = {0x00, 0xC0, 0x00, 0x00, sw2};
    } else if (sw1 == 0x6C && was_get_response) {
      next = {0x00, 0xC0, 0x00, 0x00, sw2};
    } else {
      result.response.insert(result.response.end(), reply.begin(), reply.end());
      return result;
    }
  }
  ADD_FAILURE() << "endless GET RESPONSE chain";
  return result;
}

// ---------------------------------------------------------------------------
// ATR presentation

TEST(T0Atr, T1OnlyAtrGetsAT0FaceWithItsHistoricalBytes) {
  const Bytes presented = t0_only_atr(hex(kViccT1));
  EXPECT_EQ(presented, hex("3B 05 80 73 FF 01 00"));
  AtrError error;
  auto info = parse_atr(presented, &error);
  ASSERT_TRUE(info) << to_string(error);
  EXPECT_EQ(info->protocols, 1u);  // T=0 only
  EXPECT_FALSE(info->has_tck);     // forbidden when only T=0 is offered
  EXPECT_FALSE(info->ta1 || info->tb1 || info->tc1 || info->ta2);
  EXPECT_TRUE(qemu_accepts_atr(presented));
}

TEST(T0Atr, YubiKeyLikeAtrDropsTa1Tb1Tc1Tb3AndTck) {
  const Bytes presented = t0_only_atr(hex(kYubiKeyLike));
  EXPECT_EQ(presented, hex("3B 0D 80 73 C0 21 C0 57 59 75 62 69 4B 65 79"));
  const Bytes card = hex(kYubiKeyLike);
  auto original = parse_atr(card);
  auto info = parse_atr(presented);
  ASSERT_TRUE(original && info);
  EXPECT_TRUE(std::equal(original->historical.begin(), original->historical.end(),
                         info->historical.begin(), info->historical.end()));
  EXPECT_TRUE(qemu_accepts_atr(presented));
}

TEST(T0Atr, InverseConventionKeepsTs) {
  const Bytes presented = t0_only_atr(hex("3F 95 13 81 01 80 73 FF 01 00 0B"));
  EXPECT_EQ(presented, hex("3F 05 80 73 FF 01 00"));
  auto info = parse_atr(presented);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->inverse_convention);
  EXPECT_TRUE(qemu_accepts_atr(presented));
}

TEST(T0Atr, FifteenHistoricalBytesFit) {
  Bytes atr = {0x3B, 0x8F, 0x01};  // TD1: T=1 only, K = 15
  const Bytes historical = pattern(15, 0x40);
  atr.insert(atr.end(), historical.begin(), historical.end());
  std::uint8_t tck = 0;
  for (std::size_t i = 1; i < atr.size(); ++i) tck ^= atr[i];
  atr.push_back(tck);
  ASSERT_TRUE(parse_atr(atr));
  Bytes expected = {0x3B, 0x0F};
  expected.insert(expected.end(), historical.begin(), historical.end());
  const Bytes presented = t0_only_atr(atr);
  EXPECT_EQ(presented, expected);
  EXPECT_TRUE(parse_atr(presented));
  EXPECT_TRUE(qemu_accepts_atr(presented));
}

TEST(T0Atr, T0AtrWithTa1Tc1ForcedLosesThemAndStaysTckFree) {
  // T=0 only (no TD1), TA1 = 96, TC1 = 00: no TCK (ISO 7816-3 8.2.5).
  const Bytes card = hex("3B 55 96 00 11 22 33 44 55");
  ASSERT_TRUE(parse_atr(card));
  EXPECT_EQ(t0_only_atr(card), hex("3B 05 11 22 33 44 55"));
}

TEST(T0Atr, UnparsableAtrHasNoT0Face) {
  EXPECT_TRUE(t0_only_atr(hex("3B")).empty());
  EXPECT_TRUE(t0_only_atr(hex("3B 95 13 81 01 80 73 FF 01 00")).empty());  // T=1 without TCK
  EXPECT_TRUE(t0_only_atr({}).empty());
}

TEST(T0Atr, PresenterTranslatesOnlyCardsWithoutT0InAuto) {
  T0Presenter t1(hex(kViccT1));
  EXPECT_TRUE(t1.translating());
  EXPECT_EQ(Bytes(t1.card_atr().begin(), t1.card_atr().end()), hex(kViccT1));
  EXPECT_EQ(Bytes(t1.presented_atr().begin(), t1.presented_atr().end()),
            hex("3B 05 80 73 FF 01 00"));

  T0Presenter both(hex(kAthenaT0T1));
  EXPECT_FALSE(both.translating());
  EXPECT_EQ(Bytes(both.presented_atr().begin(), both.presented_atr().end()), hex(kAthenaT0T1));

  // An ATR that does not parse says nothing about T=1: left alone.
  T0Presenter bad(hex("3B 95 13 81 01 80 73 FF 01 00"));
  EXPECT_FALSE(bad.translating());
}

TEST(T0Atr, OnForcesAndOffNeverTranslates) {
  T0Presenter forced(hex(kAthenaT0T1), {T0Translation::On, true});
  EXPECT_TRUE(forced.translating());
  EXPECT_EQ(Bytes(forced.presented_atr().begin(), forced.presented_atr().end()),
            hex("3B 05 80 73 C8 21 13"));
  T0Presenter off(hex(kViccT1), {T0Translation::Off, true});
  EXPECT_FALSE(off.translating());
  EXPECT_EQ(Bytes(off.presented_atr().begin(), off.presented_atr().end()), hex(kViccT1));
  // Forced with an ATR it cannot rebuild: the card's ATR goes out as it is.
  T0Presenter forced_bad(hex("3B"), {T0Translation::On, true});
  EXPECT_TRUE(forced_bad.translating());
  EXPECT_EQ(Bytes(forced_bad.presented_atr().begin(), forced_bad.presented_atr().end()),
            hex("3B"));
}

// ---------------------------------------------------------------------------
// Scripted T=1 cards

const Bytes kFci = pattern(20, 0xA0);
const Bytes kSignature = pattern(128, 0x11);
const Bytes kDataObject = pattern(10, 0x33);

// A T=1 card strict about Le: case-3 commands with Le get 6700, case-2
// commands with the wrong Le get 6Cxx (the exact count), a case-1 command with
// P3 = 00 is taken as Le = 256 and refused with 6700.
Bytes strict_card(const Bytes& c) {
  auto apdu = parse_command_apdu(c);
  if (!apdu) return hex("6700");
  switch (c[1]) {
    case 0xA4:  // SELECT: FCI only when Le is present (7816-4 5.1: Le absent, no data)
      if (apdu->kind == ApduCase::Case4Short) return with_sw(kFci, 0x9000);
      if (apdu->kind == ApduCase::Case3Short) return hex("9000");
      return hex("6700");
    case 0x20:  // VERIFY: case 3 only
      if (apdu->kind != ApduCase::Case3Short) return hex("6700");
      return apdu->data.size() == 6 && apdu->data[0] == '1' ? hex("9000") : hex("63C2");
    case 0xF0:  // a proprietary case-3 command under an interindustry CLA
      return apdu->kind == ApduCase::Case3Short ? hex("9000") : hex("6700");
    case 0xCA:  // GET DATA: exactly 10 bytes, 6Cxx otherwise
      if (apdu->kind != ApduCase::Case2Short) return hex("6700");
      if (apdu->ne != kDataObject.size()) return hex("6C0A");
      return with_sw(kDataObject, 0x9000);
    case 0x44:  // ACTIVATE FILE: case 1 only
      return apdu->kind == ApduCase::Case1 ? hex("9000") : hex("6700");
    case 0x2A:  // PSO: COMPUTE DIGITAL SIGNATURE, case 4
      if (apdu->kind != ApduCase::Case4Short) return hex("6700");
      return with_sw(kSignature, 0x9000);
    default:
      return hex("6D00");
  }
}

// A lenient T=1 card: returns data to the case-3 form too (Le ignored).
Bytes lenient_card(const Bytes& c) {
  if (c.size() >= 2 && c[1] == 0x88) return with_sw(pattern(8, 0x88), 0x9000);
  if (c.size() >= 2 && c[1] == 0xA4) return with_sw(kFci, 0x9000);
  return hex("9000");
}

TEST(T0PresenterStrictCard, SelectWithoutLeReturnsTheFciTheT0Way) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{strict_card, {}};
  const Bytes select = hex("00 A4 04 00 05 A0 00 00 03 08");
  // First reply: 61 14, no data (ISO 7816-3 12.2.4).
  EXPECT_EQ(exchange(presenter, card, select), hex("61 14"));
  ASSERT_EQ(card.received.size(), 1u);
  EXPECT_EQ(card.received[0], hex("00 A4 04 00 05 A0 00 00 03 08 00"));  // case 4, Le = 00
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 14")), with_sw(kFci, 0x9000));
  EXPECT_EQ(card.received.size(), 1u);  // served by the presenter
}

TEST(T0PresenterStrictCard, VerifyGoesUnchangedAsCase3) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{strict_card, {}};
  const Bytes verify = hex("00 20 00 80 06 31 32 33 34 35 36");
  EXPECT_EQ(exchange(presenter, card, verify), hex("9000"));
  ASSERT_EQ(card.received.size(), 1u);
  EXPECT_EQ(card.received[0], verify);
  EXPECT_EQ(exchange(presenter, card, hex("00 20 00 80 06 39 39 39 39 39 39")), hex("63C2"));
}

TEST(T0PresenterStrictCard, UnknownCase3CommandIsRetriedWithoutLeOn6700) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{strict_card, {}};
  const Bytes command = hex("00 F0 00 00 02 AA BB");
  EXPECT_EQ(exchange(presenter, card, command), hex("9000"));
  ASSERT_EQ(card.received.size(), 2u);
  EXPECT_EQ(card.received[0], hex("00 F0 00 00 02 AA BB 00"));
  EXPECT_EQ(card.received[1], command);
}

TEST(T0PresenterStrictCard, WrongLeIsCorrectedFrom6Cxx) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{strict_card, {}};
  EXPECT_EQ(exchange(presenter, card, hex("00 CA 01 02 00")), with_sw(kDataObject, 0x9000));
  ASSERT_EQ(card.received.size(), 2u);
  EXPECT_EQ(card.received[1], hex("00 CA 01 02 0A"));
}

TEST(T0PresenterStrictCard, HeaderWithP3ZeroIsRetriedAsCase1On6700) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{strict_card, {}};
  EXPECT_EQ(exchange(presenter, card, hex("00 44 00 00 00")), hex("9000"));
  ASSERT_EQ(card.received.size(), 2u);
  EXPECT_EQ(card.received[0], hex("00 44 00 00 00"));
  EXPECT_EQ(card.received[1], hex("00 44 00 00"));
}

TEST(T0PresenterStrictCard, SignatureOf128BytesReachesTheGuestWhole) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card2{strict_card, {}};
  Bytes pso = hex("00 2A 9E 9A 20");
  const Bytes digest = pattern(32, 0x55);
  pso.insert(pso.end(), digest.begin(), digest.end());
  const GuestResult signed_ = guest_transmit(presenter, card2, pso);
  EXPECT_EQ(signed_.response, with_sw(kSignature, 0x9000));
  Bytes expected_to_card = pso;
  expected_to_card.push_back(0x00);
  ASSERT_EQ(card2.received.size(), 1u);
  EXPECT_EQ(card2.received[0], expected_to_card);
}

TEST(T0PresenterLenientCard, DataForACase3FormCommandComesByGetResponse) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{lenient_card, {}};
  const Bytes auth = hex("00 88 00 00 04 01 02 03 04");
  EXPECT_EQ(exchange(presenter, card, auth), hex("61 08"));
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 08")), with_sw(pattern(8, 0x88), 0x9000));
  EXPECT_EQ(card.received.size(), 1u);
}

TEST(T0PresenterLenientCard, NoDataInstructionsNeverGetLe) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{lenient_card, {}};
  for (const char* command : {"00 20 00 81 02 31 32", "00 24 00 81 02 31 32", "00 2C 00 81 01 31",
                              "00 DA 00 C1 01 05", "00 D6 00 00 01 05", "00 DC 01 04 01 05",
                              "00 E2 00 00 01 05", "00 22 41 B6 03 80 01 07"}) {
    card.received.clear();
    EXPECT_EQ(exchange(presenter, card, hex(command)), hex("9000")) << command;
    ASSERT_EQ(card.received.size(), 1u);
    EXPECT_EQ(card.received[0], hex(command)) << command;
  }
  // A proprietary class reuses interindustry codes: Le is added there.
  card.received.clear();
  exchange(presenter, card, hex("80 20 00 81 02 31 32"));
  EXPECT_EQ(card.received.at(0), hex("80 20 00 81 02 31 32 00"));
}

// ---------------------------------------------------------------------------
// GET RESPONSE from the guest

TEST(T0PresenterGetResponse, SmallerLeGivesAChunkAndTheRestAnnounced) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{strict_card, {}};
  ASSERT_EQ(exchange(presenter, card, hex("00 A4 04 00 02 3F 00")), hex("61 14"));
  Bytes first = Bytes(kFci.begin(), kFci.begin() + 8);
  first.push_back(0x61);
  first.push_back(12);
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 08")), first);
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 0C")),
            with_sw(Bytes(kFci.begin() + 8, kFci.end()), 0x9000));
}

TEST(T0PresenterGetResponse, LargerLeGets6CxxAndTheResponseStays) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{strict_card, {}};
  ASSERT_EQ(exchange(presenter, card, hex("00 A4 04 00 02 3F 00")), hex("61 14"));
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 00")), hex("6C 14"));
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 20")), hex("6C 14"));
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 14")), with_sw(kFci, 0x9000));
}

TEST(T0PresenterGetResponse, NothingHeldIsRefusedLikeAT0Card) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{strict_card, {}};
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 10")), hex("6985"));
  EXPECT_TRUE(card.received.empty());
  // Read completely: nothing held any more.
  ASSERT_EQ(exchange(presenter, card, hex("00 A4 04 00 02 3F 00")), hex("61 14"));
  ASSERT_EQ(exchange(presenter, card, hex("00 C0 00 00 14")), with_sw(kFci, 0x9000));
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 14")), hex("6985"));
}

TEST(T0PresenterGetResponse, AnyOtherCommandDropsTheHeldResponse) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{strict_card, {}};
  ASSERT_EQ(exchange(presenter, card, hex("00 A4 04 00 02 3F 00")), hex("61 14"));
  EXPECT_EQ(exchange(presenter, card, hex("00 20 00 80 06 31 32 33 34 35 36")), hex("9000"));
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 14")), hex("6985"));
}

TEST(T0PresenterGetResponse, T0CardGetsTheGuestsGetResponseWhenNothingIsHeld) {
  // A T=0 card answers 61xx itself; the guest's GET RESPONSE is the card's.
  T0Presenter presenter(hex(kAthenaT0T1));
  ScriptedCard card{[](const Bytes& c) {
                      if (c[1] == 0xC0) return with_sw(pattern(c[4]), 0x9000);
                      return hex("61 10");
                    },
                    {}};
  EXPECT_EQ(exchange(presenter, card, hex("00 88 00 00 02 01 02")), hex("61 10"));
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 10")), with_sw(pattern(16), 0x9000));
  ASSERT_EQ(card.received.size(), 2u);
  EXPECT_EQ(card.received[1], hex("00 C0 00 00 10"));
}

// ---------------------------------------------------------------------------
// The card's own 61xx (T=1 cards that chain with GET RESPONSE)

Bytes chaining_card(const Bytes& c, const Bytes& whole) {
  // Answers any non-GET RESPONSE command with 61xx and hands `whole` out in
  // chunks of P3 bytes; the position is kept in a static for the test's card.
  static std::size_t pos = 0;
  if (c[1] != 0xC0) {
    pos = 0;
    return {0x61, static_cast<std::uint8_t>(std::min<std::size_t>(whole.size(), 256) & 0xFF)};
  }
  const std::size_t le = c[4] == 0 ? 256 : c[4];
  const std::size_t n = std::min(le, whole.size() - pos);
  Bytes out(whole.begin() + static_cast<std::ptrdiff_t>(pos),
            whole.begin() + static_cast<std::ptrdiff_t>(pos + n));
  pos += n;
  const std::size_t left = whole.size() - pos;
  if (left == 0) return with_sw(out, 0x9000);
  out.push_back(0x61);
  out.push_back(static_cast<std::uint8_t>(std::min<std::size_t>(left, 256) & 0xFF));
  return out;
}

TEST(T0PresenterCardChaining, CardsOwn61xxIsCollectedBeforeTheGuestSeesIt) {
  T0Presenter presenter(hex(kViccT1));
  const Bytes whole = pattern(600, 0x21);
  ScriptedCard card{[&](const Bytes& c) { return chaining_card(c, whole); }, {}};
  const GuestResult result = guest_transmit(presenter, card, hex("00 CB 3F FF 03 5C 01 7E"));
  EXPECT_EQ(result.response, with_sw(whole, 0x9000));
  // The card: the command, then GET RESPONSE (CLA 00) until 9000: 600 = 256+256+88.
  ASSERT_EQ(card.received.size(), 4u);
  EXPECT_EQ(card.received[1], hex("00 C0 00 00 00"));
  EXPECT_EQ(card.received[3], hex("00 C0 00 00 58"));
}

TEST(T0PresenterCardChaining, GetResponseToTheCardKeepsTheLogicalChannel) {
  T0Presenter presenter(hex(kViccT1));
  const Bytes whole = pattern(30);
  ScriptedCard card{[&](const Bytes& c) { return chaining_card(c, whole); }, {}};
  guest_transmit(presenter, card, hex("93 CB 3F FF 03 5C 01 7E"));  // SM + chaining, channel 3
  ASSERT_GE(card.received.size(), 2u);
  EXPECT_EQ(card.received[1], hex("03 C0 00 00 1E"));
}

TEST(T0PresenterCardChaining, EndlessChainsAreCut) {
  T0Presenter presenter(hex(kViccT1));
  // 0 bytes and 61 00 forever.
  ScriptedCard empty{[](const Bytes&) { return hex("61 00"); }, {}};
  const Bytes reply = exchange(presenter, empty, hex("00 CA 01 02 00"));
  EXPECT_EQ(status_word(reply), 0x6100);  // the card's last word, with nothing to read
  EXPECT_LE(empty.received.size(), 400u);
  EXPECT_EQ(exchange(presenter, empty, hex("00 C0 00 00 00")), hex("6985"));
  // 255 bytes and 61 FF forever: stops at the 65536-byte bound.
  ScriptedCard endless{[](const Bytes&) { return with_sw(pattern(255), 0x61FF); }, {}};
  EXPECT_EQ(exchange(presenter, endless, hex("00 CA 01 02 00")), hex("6F00"));
  EXPECT_LE(endless.received.size(), 300u);
}

// ---------------------------------------------------------------------------
// Shaping: every response length through QEMU's limits

struct ShapingCase {
  const char* atr;
  const char* command;
};

void check_every_length(const ShapingCase& c, std::size_t length) {
  SCOPED_TRACE(std::string(c.atr) + " / " + c.command + " / length " + std::to_string(length));
  Bytes card_response;
  if (length < 2) {
    card_response = pattern(length);
  } else {
    card_response = with_sw(pattern(length - 2, static_cast<std::uint8_t>(length)), 0x9000);
  }
  T0Presenter presenter(hex(c.atr));
  ScriptedCard card{[&](const Bytes&) { return card_response; }, {}};
  const GuestResult result = guest_transmit(presenter, card, hex(c.command));
  EXPECT_EQ(result.response, card_response);
  EXPECT_EQ(card.received.size(), 1u);
}

TEST(T0PresenterShaping, EveryResponseLengthUpTo300ArrivesWhole) {
  const ShapingCase cases[] = {
      {kAthenaT0T1, "00 B0 00 00 00"},         // T=0 card, case 2
      {kAthenaT0T1, "00 88 00 00 02 01 02"},   // T=0 card, case-3 form
      {kViccT1, "00 B0 00 00 00"},             // translated, case 2
      {kViccT1, "00 88 00 00 02 01 02"},       // translated, case-3 form sent as case 4
  };
  for (const ShapingCase& c : cases) {
    for (std::size_t length = 0; length <= 300; ++length) check_every_length(c, length);
  }
}

TEST(T0PresenterShaping, LongestResponseArrivesWhole) {
  check_every_length({kAthenaT0T1, "00 B0 00 00 00"}, 65282);
  check_every_length({kViccT1, "00 88 00 00 02 01 02"}, 65282);
  check_every_length({kAthenaT0T1, "00 B0 00 00 00"}, T0Presenter::kMaxResponseSize);
}

TEST(T0PresenterShaping, AResponseOf54BytesBecomesThreeThatFit) {
  T0Presenter presenter(hex(kAthenaT0T1));
  const Bytes card_response = with_sw(pattern(52), 0x9000);
  ScriptedCard card{[&](const Bytes&) { return card_response; }, {}};
  EXPECT_EQ(exchange(presenter, card, hex("00 B0 00 00 34")), hex("61 33"));
  // Asking for the 52 bytes at once would make the 54-byte response again.
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 34")), hex("6C 33"));
  Bytes first(card_response.begin(), card_response.begin() + 51);
  first.push_back(0x61);
  first.push_back(0x01);
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 33")), first);
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 01")),
            with_sw(Bytes{card_response[51]}, 0x9000));
}

TEST(T0PresenterShaping, ResponsesThatFitPassUnchangedOnAT0Card) {
  T0Presenter presenter(hex(kAthenaT0T1));
  for (std::size_t length : {2u, 53u, 55u, 258u, 374u}) {
    const Bytes card_response = with_sw(pattern(length - 2), 0x6282);
    ScriptedCard card{[&](const Bytes&) { return card_response; }, {}};
    EXPECT_EQ(exchange(presenter, card, hex("00 B0 00 00 00")), card_response) << length;
  }
}

TEST(T0PresenterShaping, OffLetsEverySizeThrough) {
  T0Presenter presenter(hex(kAthenaT0T1), {T0Translation::Auto, false});
  for (std::size_t length : {54u, 375u, 1000u}) {
    const Bytes card_response = with_sw(pattern(length - 2), 0x9000);
    ScriptedCard card{[&](const Bytes&) { return card_response; }, {}};
    EXPECT_EQ(exchange(presenter, card, hex("00 B0 00 00 00")), card_response) << length;
  }
}

TEST(T0PresenterShaping, FinalStatusWordSurvivesSplitting) {
  T0Presenter presenter(hex(kAthenaT0T1));
  const Bytes card_response = with_sw(pattern(400), 0x6282);  // end of file reached
  ScriptedCard card{[&](const Bytes&) { return card_response; }, {}};
  EXPECT_EQ(guest_transmit(presenter, card, hex("00 B0 00 00 00")).response, card_response);
}

// ---------------------------------------------------------------------------
// Passthrough, failures, bad input

TEST(T0PresenterPassthrough, TranslationOffSendsTheGuestsBytes) {
  T0Presenter presenter(hex(kViccT1), {T0Translation::Off, false});
  ScriptedCard card{strict_card, {}};
  EXPECT_EQ(exchange(presenter, card, hex("00 A4 04 00 02 3F 00")), hex("9000"));
  EXPECT_EQ(card.received.at(0), hex("00 A4 04 00 02 3F 00"));
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 14")), hex("6D00"));  // the card's own
}

TEST(T0PresenterFailures, CardFailureForgetsTheExchangeAndTheHeldResponse) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{strict_card, {}};
  ASSERT_EQ(exchange(presenter, card, hex("00 A4 04 00 02 3F 00")), hex("61 14"));
  auto step = presenter.on_command(hex("00 CA 01 02 00"));
  ASSERT_TRUE(std::holds_alternative<T0Presenter::ToCard>(step));
  presenter.on_card_failed();
  EXPECT_EQ(exchange(presenter, card, hex("00 C0 00 00 14")), hex("6985"));
  EXPECT_EQ(exchange(presenter, card, hex("00 CA 01 02 0A")), with_sw(kDataObject, 0x9000));
}

TEST(T0PresenterBadInput, ShortAndOddCommandsGetDefinedAnswers) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard card{strict_card, {}};
  EXPECT_EQ(exchange(presenter, card, {}), hex("6700"));
  EXPECT_EQ(exchange(presenter, card, hex("00 A4")), hex("6700"));
  EXPECT_TRUE(card.received.empty());
  // Lc disagreeing with the length, and an extended form: to the card as they are.
  EXPECT_EQ(exchange(presenter, card, hex("00 A4 04 00 09 01")), hex("6700"));
  EXPECT_EQ(card.received.back(), hex("00 A4 04 00 09 01"));
  EXPECT_EQ(exchange(presenter, card, hex("00 A4 04 00 00 00 02 3F 00")), hex("6700"));
  EXPECT_EQ(card.received.back(), hex("00 A4 04 00 00 00 02 3F 00"));
}

TEST(T0PresenterBadInput, CardResponsesOfNoStatusWordOrTooLongAreDefined) {
  T0Presenter presenter(hex(kViccT1));
  ScriptedCard one_byte{[](const Bytes&) { return hex("90"); }, {}};
  EXPECT_EQ(exchange(presenter, one_byte, hex("00 CA 01 02 00")), hex("90"));
  ScriptedCard huge{[](const Bytes&) { return pattern(T0Presenter::kMaxResponseSize + 1); }, {}};
  EXPECT_EQ(exchange(presenter, huge, hex("00 CA 01 02 00")), hex("6F00"));
  // Nor when nobody asked, and with shaping off.
  T0Presenter unshaped(hex(kAthenaT0T1), {T0Translation::Off, false});
  auto too_long = unshaped.on_card_response(pattern(T0Presenter::kMaxResponseSize + 1));
  ASSERT_TRUE(std::holds_alternative<T0Presenter::ToGuest>(too_long));
  EXPECT_EQ(std::get<T0Presenter::ToGuest>(too_long).response, hex("6F00"));
  // A response nobody asked for is still shaped.
  auto step = presenter.on_card_response(with_sw(pattern(52), 0x9000));
  ASSERT_TRUE(std::holds_alternative<T0Presenter::ToGuest>(step));
  EXPECT_EQ(std::get<T0Presenter::ToGuest>(step).response, hex("61 33"));
}

}  // namespace
}  // namespace vscard
