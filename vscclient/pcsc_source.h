// SPDX-License-Identifier: LGPL-2.1-or-later
// PcscSource: `vscclient --pcsc[=PATTERN]`, real cards in local PC/SC readers,
// bridged with raw APDUs through libpcsclite (not through libcacard's emulation).
//
//   - each reader that matches the pattern is announced with its PC/SC name;
//   - a card's insertion is announced with the ATR pcscd reports, its removal
//     with card_removed; readers plugged in or out while running are followed
//     (PcscMonitor, SCardGetStatusChange with the PnP pseudo-reader);
//   - APDUs go to SCardTransmit on that reader's worker thread, with the
//     protocol the card negotiated; shared mode unless `exclusive`;
//   - a card removed while an APDU is outstanding answers it with an error at
//     once, whatever the worker is still waiting for;
//   - pcscd stopping or restarting is logged once; the cards are removed at the
//     host and announced again when pcscd is back.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "card_source.h"
#include "main_context.h"
#include "pcsc_monitor.h"
#include "pcsc_reader_worker.h"

namespace vscclient {

class PcscSource final : public CardSource, private PcscMonitorEvents {
 public:
  struct Options {
    std::string pattern;            // empty: every reader (see ReaderPattern)
    bool exclusive = false;         // --exclusive
    bool first_reader_only = false; // -p: libcacard's vscclient used the first reader
    // --pcsc-reset: power events from the host reset the real card
    // (SCardReconnect). Off by default: a reset disturbs every other
    // application sharing the card, and a card whose PIN state is reset
    // under them fails their next command.
    bool reset_card = false;
  };

  explicit PcscSource(Options options);
  ~PcscSource() override;

  std::string_view kind() const override { return "pcsc"; }
  bool start(GMainContext* context, CardSourceListener& listener, std::string* error) override;
  void transmit(SourceReaderId reader, std::vector<std::uint8_t> apdu, std::size_t max_response,
                ApduDone done) override;
  // Only with Options::reset_card; see PcscReaderWorker::power.
  bool card_control(SourceReaderId reader, vscard::CardControlEvent event,
                    ApduDone done) override;
  void stop() override;

 private:
  struct Pending {
    std::uint64_t serial = 0;
    ApduDone done;
  };
  struct Reader {
    std::string name;
    bool card = false;
    std::unique_ptr<PcscReaderWorker> worker;
    std::deque<Pending> pending;  // in submission order; answered in order
  };

  // PcscMonitorEvents: called on the monitor thread, posted to the main context.
  void reader_added(const std::string& name) override;
  void reader_removed(const std::string& name) override;
  void card_inserted(const std::string& name, std::vector<std::uint8_t> atr) override;
  void card_removed(const std::string& name) override;
  void service_lost(const std::string& reason) override;
  void service_back() override;
  void no_matching_reader(const std::vector<std::string>& all_readers) override;

  // Main-thread handlers.
  void on_reader_added(const std::string& name);
  void on_reader_removed(const std::string& name);
  void on_card_inserted(const std::string& name, std::vector<std::uint8_t> atr);
  void on_card_removed(const std::string& name);
  // The reader `id` if it holds a card; else nullptr, and `done` is posted the reason.
  Reader* reader_with_card(SourceReaderId id, ApduDone& done);
  // Queues `done` behind the reader's earlier jobs; returns the worker's
  // callback, which posts the result to on_transmit_done on the main context.
  PcscReaderWorker::Done queue_job(SourceReaderId id, Reader& reader, ApduDone done);
  void on_transmit_done(SourceReaderId id, std::uint64_t serial, PcscTransmitResult result);
  void fail_pending(Reader& reader, const std::string& why);
  std::map<SourceReaderId, Reader>::iterator find(const std::string& name);

  Options options_;
  CardSourceListener* listener_ = nullptr;
  std::unique_ptr<MainContextPoster> poster_;
  std::unique_ptr<PcscMonitor> monitor_;
  std::map<SourceReaderId, Reader> readers_;
  SourceReaderId next_id_ = 0;
  std::uint64_t next_serial_ = 0;
};

}  // namespace vscclient
