// SPDX-License-Identifier: LGPL-2.1-or-later
// A card source: where vscclient's readers and cards come from.
//
// Three sources implement it: CacardSource (libcacard: NSS soft cards, NSS/PKCS#11
// hardware tokens), the PC/SC source (--pcsc, vscclient/pcsc_*.cc) and
// ViccSource (--vicc, vpcd card programs such as vicc and jcardsim,
// vscclient/vicc_*.cc). The Bridge (bridge.h) connects any number of sources
// to one ClientSession.
//
// Threading contract, the same for every source: start(), transmit() and the
// user commands are called on the main thread; every listener call and every
// ApduDone runs on the main GMainContext given to start(), never inside the call
// that caused it; blocking card work (PC/SC calls, libcacard APDU processing,
// waiting for reader events) runs on the source's own worker threads (a
// socket card, ViccSource's, needs none: its I/O is the main loop's).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <glib.h>

#include "vscard/protocol.h"

namespace vscclient {

// A reader as its source names it; unique within that source for its lifetime.
using SourceReaderId = std::uint32_t;

class CardSource;

class CardSourceListener {
 public:
  virtual ~CardSourceListener() = default;
  virtual void reader_added(CardSource& source, SourceReaderId reader, std::string name) = 0;
  // After this the id is not used again; a card in it was reported removed first.
  virtual void reader_removed(CardSource& source, SourceReaderId reader) = 0;
  virtual void card_inserted(CardSource& source, SourceReaderId reader,
                             std::vector<std::uint8_t> atr) = 0;
  virtual void card_removed(CardSource& source, SourceReaderId reader) = 0;
  // The source cannot go on (pcscd went away, ...); one line for the log.
  virtual void source_failed(CardSource& source, std::string reason) = 0;
};

// What transmit_now() did.
struct ApduNow {
  enum class Kind {
    Queued,    // nothing: the APDU must go through transmit()
    Answered,  // `response` is the card's answer
    Failed,    // the card could not answer; `error` says why
  };
  Kind kind = Kind::Queued;
  // Lent, not given: the source's own buffer, which its next transmit_now()
  // writes over (no copy and no allocation per APDU). Use it up (send it, or
  // let the presenter copy what it keeps) before calling the source again;
  // Bridge::transmit's loop does.
  std::span<const std::uint8_t> response;
  const char* error = "";
};

struct ApduResult {
  bool ok = false;                      // false: no card / the card failed
  std::vector<std::uint8_t> response;   // data and SW1 SW2 when ok
  std::string error;                    // what failed, for the log, when !ok
};

class CardSource {
 public:
  using ApduDone = std::function<void(ApduResult)>;

  virtual ~CardSource() = default;

  // "libcacard", "pcsc": for logs and `list`.
  virtual std::string_view kind() const = 0;

  // Begins reporting readers and cards (those present now included) to
  // `listener`. False with `error` set when the source cannot start.
  virtual bool start(GMainContext* context, CardSourceListener& listener,
                     std::string* error) = 0;

  // Sends a command APDU to the card in `reader`; `done` runs on the main
  // context with the response. Commands to one reader are answered in order.
  // The response may be up to `max_response` bytes (the wire limit).
  virtual void transmit(SourceReaderId reader, std::vector<std::uint8_t> apdu,
                        std::size_t max_response, ApduDone done) = 0;

  // The fast path (issue 19, docs/architecture.md "Threads"): answers `apdu`
  // at once, on the calling (main) thread, when the source can do so without
  // blocking and without overtaking a command of the same reader still in
  // transmit(); otherwise does nothing and returns Kind::Queued. Unlike
  // transmit(), the answer comes back inside the call: no job, no callback,
  // no allocation. The default queues everything.
  virtual ApduNow transmit_now(SourceReaderId /*reader*/, std::span<const std::uint8_t> /*apdu*/,
                               std::size_t /*max_response*/) {
    return {};
  }

  // stdin `insert` / `remove` (libcacard's vcard_emul_force_card_*). True if
  // the request was accepted; the change is then reported through the
  // listener. False with `error` set if this source or reader cannot do it.
  virtual bool force_insert(SourceReaderId /*reader*/, std::string* error) {
    if (error) *error = "this card source cannot insert cards on request";
    return false;
  }
  virtual bool force_remove(SourceReaderId /*reader*/, std::string* error) {
    if (error) *error = "this card source cannot remove cards on request";
    return false;
  }

  // A power event from the host's application (CardControl extension,
  // docs/protocol.md), after every earlier transmit() of the reader and before
  // every later one. True if the source acts on it: `done` then runs on the main
  // context once the card was powered off (ok, no bytes) or came back from a
  // power on / reset (ok, `response` holding the card's new ATR; !ok if it did
  // not come up). False: the source leaves the card alone and `done` is never
  // called (the Bridge logs that and answers a reset with the card's ATR).
  virtual bool card_control(SourceReaderId /*reader*/, vscard::CardControlEvent /*event*/,
                            ApduDone /*done*/) {
    return false;
  }

  // Stops the workers; no listener call or ApduDone runs afterwards.
  virtual void stop() = 0;
};

}  // namespace vscclient
