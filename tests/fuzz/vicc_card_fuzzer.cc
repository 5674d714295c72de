// SPDX-License-Identifier: LGPL-2.1-or-later
// Fuzz target: vscclient's ViccCard (vscclient/vicc_card.h), the reader side of
// a vpcd connection, driven by a hostile card program.
//
// The fuzzer plays both the card (bytes split anywhere) and the host (commands
// of any length, timeouts), in an order it chooses. Whatever happens the card
// must keep its promises: at most one ATR, of at most 33 bytes, and only first;
// a response only to a command sent; nothing after Failed; a refused command
// leaves the state as it was; output only what the reader side may send
// (control frames, then framed commands) and never more than one request
// outstanding.
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_check.h"
#include "vicc_card.h"
#include "vscard/atr.h"

using vscclient::ViccCard;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const std::size_t max_response = fdp.ConsumeBool() ? vscard::vpcd::kMaxFrameData
                                                     : fdp.ConsumeIntegralInRange<std::size_t>(0, 300);
  ViccCard card(max_response);
  card.start();
  FUZZ_CHECK(card.state() == ViccCard::State::PoweringUp);
  FUZZ_CHECK(card.pending_output().size() == 6);  // power on, get ATR
  card.consume_output(card.pending_output().size());
  int inserted = 0;
  while (fdp.remaining_bytes() > 0) {
    const ViccCard::State before = card.state();
    switch (fdp.ConsumeIntegralInRange<int>(0, 3)) {
      case 0:
      case 1: {  // bytes from the card
        auto chunk = fdp.ConsumeBytes<std::uint8_t>(fdp.ConsumeIntegralInRange<std::size_t>(0, 80));
        auto events = card.receive(chunk);
        for (std::size_t i = 0; i < events.size(); ++i) {
          const auto& e = events[i];
          FUZZ_CHECK(e.kind != ViccCard::Event::Kind::Failed || i + 1 == events.size());
          if (e.kind == ViccCard::Event::Kind::Inserted) {
            FUZZ_CHECK(++inserted == 1 && i == 0 && before == ViccCard::State::PoweringUp);
            FUZZ_CHECK(!e.bytes.empty() && e.bytes.size() <= vscard::kIsoMaxAtrSize);
          }
          if (e.kind == ViccCard::Event::Kind::Response) {
            // One command at a time: one response per send_command, so one per receive.
            FUZZ_CHECK(i == 0 && before == ViccCard::State::Busy && !e.bytes.empty());
            FUZZ_CHECK(e.bytes.size() <= std::max(max_response, vscard::kIsoMaxAtrSize));
          }
        }
        if (before == ViccCard::State::Failed) FUZZ_CHECK(events.empty());
        if (!events.empty() && events.back().kind == ViccCard::Event::Kind::Failed) {
          FUZZ_CHECK(card.state() == ViccCard::State::Failed && !card.failure().empty());
          FUZZ_CHECK(card.pending_output().empty());
        }
        break;
      }
      case 2: {  // a command from the host
        auto apdu = fdp.ConsumeBytes<std::uint8_t>(fdp.ConsumeIntegralInRange<std::size_t>(0, 12));
        std::string error;
        const std::size_t out_before = card.pending_output().size();
        if (card.send_command(apdu, &error)) {
          FUZZ_CHECK(before == ViccCard::State::Ready && card.state() == ViccCard::State::Busy);
          FUZZ_CHECK(apdu.size() >= 2);
          FUZZ_CHECK(card.pending_output().size() == out_before + 2 + apdu.size());
          card.consume_output(card.pending_output().size());
        } else {
          FUZZ_CHECK(!error.empty() && card.state() == before);
          FUZZ_CHECK(card.pending_output().size() == out_before);
        }
        break;
      }
      case 3:  // the glue's timer
        if (card.awaiting_answer()) {
          FUZZ_CHECK(!card.timed_out("1 s").empty());
          FUZZ_CHECK(card.state() == ViccCard::State::Failed);
        }
        break;
    }
    FUZZ_CHECK(!card.closed_reason().empty());
  }
  return 0;
}
