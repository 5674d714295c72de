// SPDX-License-Identifier: LGPL-2.1-or-later
// libcacard card source (see cacard_source.h).
#include "cacard_source.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include <libcacard.h>
#include <cert.h>
#include <pk11pub.h>

#include "emul_args.h"
#include "nss_handles.h"

namespace vscclient {
namespace {

// libcacard reader ids start undefined ((vreader_id_t)-1); vscclient gives each
// reader its own id with vreader_set_id() so that it can be found again with
// vreader_get_reader_by_id() from any thread.
std::atomic<SourceReaderId> next_reader_id{0};

// An ATR is at most 33 bytes (ISO 7816-3); QEMU copies up to 40.
constexpr int kAtrBufferSize = 64;

// Power on (a token logout), forced insertion and removal may reach the token.
constexpr bool kMayBlock = true;

std::shared_ptr<VReaderStruct> reader_ref(VReader* reader) {
  return {vreader_reference(reader), vreader_free};
}

bool db_directory_usable(const std::string& dir) {
  // The sql: format is what NSS uses by default since 3.35; the legacy dbm
  // format (cert8.db) still opens.
  for (const char* file : {"cert9.db", "cert8.db"}) {
    g_autofree char* path = g_build_filename(dir.c_str(), file, nullptr);
    if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) return true;
  }
  return false;
}

// Whether libcacard may hand `apdu` to the PKCS#11 token rather than answer it
// from what it read at start-up: PIN commands (VERIFY, CHANGE REFERENCE DATA,
// RESET RETRY COUNTER: ISO 7816-4 11.5.6-11.5.10, libcacard card_7816.c ->
// vcard_emul_login), CAC SIGN/DECRYPT (INS 42, cac.c -> vcard_emul_rsa_op) and,
// to be safe, the challenge/authenticate family (ISO 7816-4 11.5.2-11.5.4).
bool may_reach_token(std::span<const std::uint8_t> apdu) {
  if (apdu.size() < 2) return false;
  switch (apdu[1]) {
    case 0x42:  // CAC SIGN/DECRYPT
      // P1 80: "more data follows"; libcacard only appends it to the applet's
      // buffer and answers 90 00 (cac.c, cac_applet_pki_process_apdu); the key
      // is used by the last part (P1 00).
      return apdu.size() < 3 || apdu[2] != 0x80;
    case 0x20: case 0x21: case 0x24: case 0x25: case 0x2C: case 0x2D:  // PIN
    case 0x82: case 0x84: case 0x86: case 0x87: case 0x88:             // authenticate
      return true;
    default:
      return false;
  }
}

// Powers the card in `reader` on: resets its state (applet, login) as a fresh
// insertion does and returns the ATR to announce (empty if that failed).
std::vector<std::uint8_t> power_on(VReader* reader) {
  std::vector<std::uint8_t> atr(kAtrBufferSize);
  int len = kAtrBufferSize;
  if (vreader_power_on(reader, atr.data(), &len) != VREADER_OK || len <= 0) return {};
  atr.resize(static_cast<std::size_t>(len));
  return atr;
}

}  // namespace

CacardSource::CacardSource(std::string emul_args) : emul_args_(std::move(emul_args)) {}

CacardSource::~CacardSource() { stop(); }

bool CacardSource::start(GMainContext* context, CardSourceListener& listener, std::string* error) {
  std::string parse_error;
  auto summary = summarize_emul_args(emul_args_, &parse_error);
  if (!summary) {
    *error = "bad emulator arguments (-e): " + parse_error;
    return false;
  }
  use_hw_ = summary->use_hw;
  passthru_ = summary->passthru;
  // Cards whose keys are in NSS's own software token (soft=(,...): an empty
  // slot name) are answered on the main thread: libcacard answers from memory
  // and softokn signs on the CPU, neither waits on anything. Hardware tokens
  // (use_hw) and other PKCS#11 slots (SoftHSM, smart cards through NSS) can
  // block on a device or a PIN: they keep the card workers.
  inline_cards_ = !use_hw_ && !summary->soft_slot_names.empty() &&
                  std::all_of(summary->soft_slot_names.begin(), summary->soft_slot_names.end(),
                              [](const std::string& slot) { return slot.empty(); });
  std::string db = summary->db.value_or(kAnchorDefaultDb);
  std::string dir = nss_db_directory(db);
  if (!summary->passthru && !db_directory_usable(dir)) {
    *error = "no NSS database in '" + dir + "': create one with `certutil -N -d sql:" + dir +
             "`, name another with --nss-db DIR (or -e 'db=\"sql:DIR\"'), or use --soft-card";
    return false;
  }

  VCardEmulOptions* options = nullptr;
  if (!emul_args_.empty()) {
    options = vcard_emul_options(emul_args_.c_str());
    if (options == nullptr) {
      *error = "libcacard rejected the emulator arguments '" + emul_args_ + "'";
      return false;
    }
  }
  VCardEmulError rv = vcard_emul_init(options);
  if (rv == VCARD_EMUL_INIT_ALREADY_INITED) {
    *error = "libcacard is already initialized in this process";
    return false;
  }
  if (rv != VCARD_EMUL_OK) {
    *error = "libcacard could not open the NSS database '" + db +
             "' or found none of its certificates; check the path and the nicknames "
             "with `certutil -L -d sql:" + dir + "`";
    return false;
  }
  if (!check_certificates(dir, error)) {
    stop();
    return false;
  }

  listener_ = &listener;
  poster_ = std::make_unique<MainContextPoster>(context);
  // A few threads: enough that one slow token does not hold up other readers.
  pool_ = std::make_unique<WorkerPool>(context, 4);
  started_ = true;
  take_startup_events();
  events_ = std::thread([this] { event_thread(); });
  return true;
}

bool CacardSource::runs_inline(SourceReaderId id, bool may_block) const {
  // Inline only while the reader's lane is idle, so that a reader's jobs stay
  // in order and one at a time even when some of them go to a worker.
  return inline_cards_ || (!may_block && pool_->pending(id) == 0);
}

void CacardSource::card_job(SourceReaderId id, bool may_block, std::function<void()> work,
                            std::function<void()> done) {
  if (!runs_inline(id, may_block)) {
    pool_->submit(id, std::move(work), std::move(done));
    return;
  }
  // On this (the main) thread, now: jobs stay in order and on one thread as in
  // a lane, and `done` still runs from the main loop, never inside the caller
  // (card_source.h), but without a hand-over to another thread and back.
  work();
  if (done) poster_->post(std::move(done));
}

void CacardSource::take_startup_events() {
  // vcard_emul_init() has queued its readers and cards already. Take them here,
  // on the main thread before its loop runs, and power the cards on at once,
  // rather than through the event thread and a card worker: at start-up each
  // hand-over between threads is a wake-up waiting for a CPU, and the ATR is
  // what the host waits for (spawn -> ATR, tests/bench --reference, issue 19).
  // Nothing is served yet, so a slow token only delays the start. The listener
  // still hears of them from the main loop, in order, never inside start().
  while (VEvent* raw = vevent_get_next_vevent()) {
    EventRef event(raw, vevent_delete);
    if (event->type == VEVENT_READER_INSERT &&
        vreader_get_id(event->reader) == static_cast<vreader_id_t>(-1)) {
      vreader_set_id(event->reader, next_reader_id.fetch_add(1));
    }
    if (event->type != VEVENT_CARD_INSERT) {
      poster_->post([this, event] { handle_event(event); });
      continue;
    }
    SourceReaderId id = vreader_get_id(event->reader);
    auto atr = std::make_shared<std::vector<std::uint8_t>>(power_on(event->reader));
    event.reset();
    poster_->post([this, id, atr] { card_powered(id, *atr); });
  }
}

void CacardSource::card_powered(SourceReaderId id, const std::vector<std::uint8_t>& atr) {
  Reader* reader = find(id);
  if (reader == nullptr || atr.empty()) return;  // removed meanwhile
  reader->card_reported = true;
  listener_->card_inserted(*this, id, atr);
}

bool CacardSource::check_certificates(const std::string& dir, std::string* error) {
  auto summary = summarize_emul_args(emul_args_, nullptr);
  for (const std::string& name : summary->soft_cert_names) {
    nss::Certificate cert(PK11_FindCertFromNickname(name.c_str(), nullptr));
    if (!cert) {
      *error = "certificate '" + name + "' is not in the NSS database '" + dir +
               "'; `certutil -L -d sql:" + dir + "` lists the nicknames it holds";
      return false;
    }
  }
  return true;
}

void CacardSource::event_thread() {
  while (true) {
    VEvent* raw = vevent_wait_next_vevent();
    if (raw == nullptr) break;
    EventRef event(raw, vevent_delete);
    // stop() queues a reader-less VEVENT_LAST to end this loop.
    if (event->type == VEVENT_LAST && event->reader == nullptr) break;
    if (event->type == VEVENT_READER_INSERT &&
        vreader_get_id(event->reader) == static_cast<vreader_id_t>(-1)) {
      vreader_set_id(event->reader, next_reader_id.fetch_add(1));
    }
    poster_->post([this, event] { handle_event(event); });
  }
}

CacardSource::Reader* CacardSource::find(SourceReaderId id) {
  auto it = readers_.find(id);
  return it == readers_.end() ? nullptr : &it->second;
}

void CacardSource::handle_event(EventRef event) {
  SourceReaderId id = vreader_get_id(event->reader);
  switch (event->type) {
    case VEVENT_READER_INSERT: {
      if (find(id) != nullptr) return;
      Reader& reader = readers_[id];
      reader.vreader = reader_ref(event->reader);
      const char* name = vreader_get_name(event->reader);
      reader.name = name != nullptr ? name : "";
      g_debug("libcacard reader %u added: %s", id, reader.name.c_str());
      listener_->reader_added(*this, id, reader.name);
      return;
    }
    case VEVENT_CARD_INSERT: {
      if (find(id) == nullptr) return;
      // Power on in the reader's lane: it resets the card's state (applet,
      // login) as a fresh insertion does, and reads the ATR to announce.
      auto atr = std::make_shared<std::vector<std::uint8_t>>();
      card_job(
          id, kMayBlock,
          [event, atr]() mutable {
            *atr = power_on(event->reader);
            event.reset();  // frees the event's card reference on this thread
          },
          [this, id, atr] { card_powered(id, *atr); });
      return;
    }
    case VEVENT_CARD_REMOVE:
    case VEVENT_READER_REMOVE: {
      bool reader_gone = event->type == VEVENT_READER_REMOVE;
      // Through the lane, so it is reported after an insertion still in flight.
      card_job(
          id, kMayBlock, [event]() mutable { event.reset(); },
          [this, id, reader_gone] {
            Reader* reader = find(id);
            if (reader == nullptr) return;
            if (reader->card_reported) {
              reader->card_reported = false;
              listener_->card_removed(*this, id);
            }
            if (reader_gone) {
              readers_.erase(id);
              listener_->reader_removed(*this, id);
            }
          });
      return;
    }
    case VEVENT_LAST:
      return;
  }
}

void CacardSource::transmit(SourceReaderId id, std::vector<std::uint8_t> apdu,
                            std::size_t max_response, ApduDone done) {
  auto result = std::make_shared<ApduResult>();
  Reader* reader = find(id);
  if (reader == nullptr) {
    result->error = "no such reader";
    poster_->post([done = std::move(done), result] { done(std::move(*result)); });
    return;
  }
  ReaderRef vreader = reader->vreader;
  bool may_block = passthru_ || may_reach_token(apdu);
  card_job(
      id, may_block,
      [vreader, apdu = std::move(apdu), max_response, result]() mutable {
        // Sized from the wire limit, not a fixed 270 bytes as in libcacard's
        // vscclient.c: a response longer than that buffer overflowed it there.
        // One buffer per worker thread, kept: sizing a fresh 64 KiB vector per
        // APDU zero-filled all of it every time (tests/bench, issue 10).
        thread_local std::vector<std::uint8_t> buffer;
        if (buffer.size() < max_response) buffer.resize(max_response);
        int len = static_cast<int>(max_response);
        VReaderStatus status = vreader_xfr_bytes(vreader.get(), apdu.data(),
                                                 static_cast<int>(apdu.size()),
                                                 buffer.data(), &len);
        if (status == VREADER_OK && len >= 0 && static_cast<std::size_t>(len) <= max_response) {
          result->response.assign(buffer.begin(), buffer.begin() + len);
          result->ok = true;
        } else {
          result->error = status == VREADER_NO_CARD ? "no card in the reader"
                                                    : "libcacard failed to process the APDU";
        }
      },
      [done = std::move(done), result] { done(std::move(*result)); });
}

ApduNow CacardSource::transmit_now(SourceReaderId id, std::span<const std::uint8_t> apdu,
                                   std::size_t max_response) {
  Reader* reader = find(id);
  if (reader == nullptr || !runs_inline(id, passthru_ || may_reach_token(apdu))) return {};
  // libcacard answers from memory (or softokn signs on this CPU): answered
  // here, into one kept buffer, and written back by the caller in the same
  // main-loop dispatch that read the command.
  if (now_buffer_.size() < max_response) now_buffer_.resize(max_response);
  int len = static_cast<int>(max_response);
  // libcacard copies the command (vcard_apdu_new) and never writes it: its
  // parameter is only missing a const.
  VReaderStatus status =
      vreader_xfr_bytes(reader->vreader.get(), const_cast<std::uint8_t*>(apdu.data()),
                        static_cast<int>(apdu.size()), now_buffer_.data(), &len);
  if (status == VREADER_OK && len >= 0 && static_cast<std::size_t>(len) <= max_response) {
    return {ApduNow::Kind::Answered, std::span(now_buffer_).first(static_cast<std::size_t>(len))};
  }
  return {ApduNow::Kind::Failed, {},
          status == VREADER_NO_CARD ? "no card in the reader" : "libcacard failed to process the APDU"};
}

bool CacardSource::card_control(SourceReaderId id, vscard::CardControlEvent event,
                                ApduDone done) {
  const bool off = event == vscard::CardControlEvent::PowerOff;
  if (!off && !vscard::card_control_wants_atr(event)) return false;
  auto result = std::make_shared<ApduResult>();
  Reader* reader = find(id);
  if (reader == nullptr) {
    result->error = "no such reader";
    poster_->post([done = std::move(done), result] { done(std::move(*result)); });
    return true;
  }
  ReaderRef vreader = reader->vreader;
  // Logging out may reach a PKCS#11 token: a job that may block.
  card_job(
      id, true,
      [vreader, off, result] {
        if (off) {
          result->ok = vreader_power_off(vreader.get()) == VREADER_OK;
          if (!result->ok) result->error = "no card in the reader";
          return;
        }
        // libcacard has one reset: power on (vcard_reset with VCARD_POWER_ON)
        // serves the cold and the warm reset alike.
        result->response = power_on(vreader.get());
        result->ok = !result->response.empty();
        if (!result->ok) result->error = "the card did not power on";
      },
      [done = std::move(done), result] { done(std::move(*result)); });
  return true;
}

bool CacardSource::force_insert(SourceReaderId id, std::string* error) {
  Reader* reader = find(id);
  if (reader == nullptr) {
    *error = "no such reader";
    return false;
  }
  if (vreader_card_is_present(reader->vreader.get()) == VREADER_OK) {
    *error = "a card is already inserted";
    return false;
  }
  ReaderRef vreader = reader->vreader;
  card_job(
      id, kMayBlock,
      [vreader] {
        if (vcard_emul_force_card_insert(vreader.get()) != VCARD_EMUL_OK) {
          g_warning("libcacard could not re-insert the card in %s", vreader_get_name(vreader.get()));
        }
      },
      nullptr);
  return true;
}

bool CacardSource::force_remove(SourceReaderId id, std::string* error) {
  Reader* reader = find(id);
  if (reader == nullptr) {
    *error = "no such reader";
    return false;
  }
  if (vreader_card_is_present(reader->vreader.get()) != VREADER_OK) {
    *error = "no card is inserted";
    return false;
  }
  ReaderRef vreader = reader->vreader;
  card_job(id, kMayBlock, [vreader] { vcard_emul_force_card_remove(vreader.get()); }, nullptr);
  return true;
}

void CacardSource::stop() {
  if (!started_) return;
  started_ = false;
  vevent_queue_vevent(vevent_new(VEVENT_LAST, nullptr, nullptr));
  if (events_.joinable()) events_.join();
  pool_.reset();
  poster_.reset();
  readers_.clear();
  // With use_hw, libcacard runs unjoinable NSS threads waiting on token events;
  // shutting NSS down under them is unsafe, so only soft-card-only setups
  // finalize (process exit releases the rest).
  if (!use_hw_) vcard_emul_finalize();
}

}  // namespace vscclient
