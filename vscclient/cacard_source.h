// SPDX-License-Identifier: LGPL-2.1-or-later
// CacardSource: readers and cards emulated by libcacard (NSS soft cards from
// certificates, and NSS/PKCS#11 hardware tokens with use_hw=yes).
//
// libcacard keeps its state in process globals (vcard_emul_init() works once per
// process), so there is at most one CacardSource per process.
//
// Threads: the readers and cards present at start are taken on the main thread
// (start()); then one event thread blocks in vevent_wait_next_vevent() and hands
// each later event to the main context. Everything that touches a reader's card (power on
// for the ATR, vreader_xfr_bytes, forced insert/remove) runs as a job in that
// reader's lane of a WorkerPool, because libcacard's card reference counts are
// not atomic: one lane per reader keeps those operations on one thread at a time.
// The exception is the fast path (issue 19): when every card's keys are in
// NSS's own software token (--soft-card, -c NAME), nothing a card does can wait
// on a device, so every card job runs on the main thread itself (card_job())
// and an APDU costs no thread hand-over. With PKCS#11 tokens (SoftHSM, smart
// cards through NSS), only what may reach the token -- PIN commands, the CAC
// signature, power on -- goes to the reader's worker; the other APDUs, which
// libcacard answers from memory, run inline while that reader's lane is idle.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "card_source.h"
#include "main_context.h"

struct VReaderStruct;
struct VEventStruct;

namespace vscclient {

class CacardSource final : public CardSource {
 public:
  // `emul_args`: libcacard's option string (the anchor's -e, or one built for
  // -c/--cert/--soft-card); empty means libcacard's defaults.
  explicit CacardSource(std::string emul_args);
  ~CacardSource() override;

  std::string_view kind() const override { return "libcacard"; }
  bool start(GMainContext* context, CardSourceListener& listener, std::string* error) override;
  void transmit(SourceReaderId reader, std::vector<std::uint8_t> apdu, std::size_t max_response,
                ApduDone done) override;
  ApduNow transmit_now(SourceReaderId reader, std::span<const std::uint8_t> apdu,
                       std::size_t max_response) override;
  // Power off / power on / reset through libcacard's reader API
  // (vreader_power_off, vreader_power_on): vcard_reset() deselects the applets
  // and vcard_emul_reset() logs the NSS token out, so a verified PIN is gone as
  // on a real card. In the reader's lane, in order with its APDUs.
  bool card_control(SourceReaderId reader, vscard::CardControlEvent event,
                    ApduDone done) override;
  bool force_insert(SourceReaderId reader, std::string* error) override;
  bool force_remove(SourceReaderId reader, std::string* error) override;
  void stop() override;

 private:
  using ReaderRef = std::shared_ptr<VReaderStruct>;
  using EventRef = std::shared_ptr<VEventStruct>;
  struct Reader {
    ReaderRef vreader;
    std::string name;
    bool card_reported = false;
  };

  bool check_certificates(const std::string& db, std::string* error);
  void take_startup_events();
  void event_thread();
  void handle_event(EventRef event);
  void card_powered(SourceReaderId id, const std::vector<std::uint8_t>& atr);
  // Whether an APDU for reader `id` may run on the main thread now.
  bool runs_inline(SourceReaderId id, bool may_block) const;
  // Runs `work` in reader `id`'s lane, or on the main thread now when it
  // cannot block (every card on NSS's software token, or `may_block` false
  // and the lane idle), then `done` (may be empty) on the main context.
  void card_job(SourceReaderId id, bool may_block, std::function<void()> work,
                std::function<void()> done);
  Reader* find(SourceReaderId id);

  std::string emul_args_;
  bool use_hw_ = true;
  bool inline_cards_ = false;  // every card on NSS's software token: no workers
  bool passthru_ = false;      // libcacard passes APDUs to a PC/SC card: all block
  bool started_ = false;
  CardSourceListener* listener_ = nullptr;
  std::unique_ptr<MainContextPoster> poster_;
  std::unique_ptr<WorkerPool> pool_;
  std::thread events_;
  std::map<SourceReaderId, Reader> readers_;
  std::vector<std::uint8_t> now_buffer_;  // transmit_now()'s answers, reused
};

}  // namespace vscclient
