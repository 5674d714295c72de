// SPDX-License-Identifier: LGPL-2.1-or-later
// PcscSource (see pcsc_source.h).
#include "pcsc_source.h"

#include <glib.h>

#include "vscard/apdu.h"

namespace vscclient {

PcscSource::PcscSource(Options options) : options_(std::move(options)) {}

PcscSource::~PcscSource() { stop(); }

bool PcscSource::start(GMainContext* context, CardSourceListener& listener, std::string*) {
  listener_ = &listener;
  poster_ = std::make_unique<MainContextPoster>(context);
  PcscMonitor::Options monitor_options;
  monitor_options.pattern = ReaderPattern(options_.pattern);
  monitor_options.first_reader_only = options_.first_reader_only;
  PcscMonitorEvents& events = *this;
  monitor_ = std::make_unique<PcscMonitor>(std::move(monitor_options), events);
  monitor_->start();
  return true;
}

void PcscSource::stop() {
  // Order matters: the monitor and the workers post to poster_, so they end
  // before it goes (the monitor's thread is joined; a worker's never calls
  // back once the worker is destroyed, pcsc_reader_worker.h).
  if (monitor_) monitor_->stop();
  monitor_.reset();
  for (auto& [id, reader] : readers_) reader.worker.reset();
  readers_.clear();
  poster_.reset();
  listener_ = nullptr;
}

// ---- monitor thread -> main context ----
void PcscSource::reader_added(const std::string& name) {
  poster_->post([this, name] { on_reader_added(name); });
}
void PcscSource::reader_removed(const std::string& name) {
  poster_->post([this, name] { on_reader_removed(name); });
}
void PcscSource::card_inserted(const std::string& name, std::vector<std::uint8_t> atr) {
  poster_->post([this, name, atr = std::move(atr)]() mutable {
    on_card_inserted(name, std::move(atr));
  });
}
void PcscSource::card_removed(const std::string& name) {
  poster_->post([this, name] { on_card_removed(name); });
}
void PcscSource::service_lost(const std::string& reason) {
  poster_->post([reason] {
    g_warning("PC/SC: pcscd is not available (%s); its cards are removed at the host "
              "until it is back (retrying)", reason.c_str());
  });
}
void PcscSource::service_back() {
  poster_->post([] { g_message("PC/SC: pcscd is back; announcing its readers and cards again"); });
}
void PcscSource::no_matching_reader(const std::vector<std::string>& all_readers) {
  std::string list;
  for (const auto& name : all_readers) list += (list.empty() ? "\"" : ", \"") + name + "\"";
  if (list.empty()) list = "none";
  poster_->post([pattern = options_.pattern, list] {
    if (pattern.empty())
      g_message("PC/SC: no reader yet; waiting for one to be plugged in");
    else
      g_message("PC/SC: no reader matches \"%s\" (readers: %s); waiting for one",
                pattern.c_str(), list.c_str());
  });
}

// ---- main context ----
std::map<SourceReaderId, PcscSource::Reader>::iterator PcscSource::find(const std::string& name) {
  for (auto it = readers_.begin(); it != readers_.end(); ++it)
    if (it->second.name == name) return it;
  return readers_.end();
}

void PcscSource::on_reader_added(const std::string& name) {
  if (!listener_ || find(name) != readers_.end()) return;
  SourceReaderId id = next_id_++;
  Reader reader;
  reader.name = name;
  reader.worker = std::make_unique<PcscReaderWorker>(name, options_.exclusive);
  readers_.emplace(id, std::move(reader));
  g_message("PC/SC: reader \"%s\"", name.c_str());
  listener_->reader_added(*this, id, name);
}

void PcscSource::on_reader_removed(const std::string& name) {
  auto it = find(name);
  if (!listener_ || it == readers_.end()) return;
  if (it->second.card) on_card_removed(name);
  g_message("PC/SC: reader \"%s\" removed", name.c_str());
  SourceReaderId id = it->first;
  fail_pending(it->second, "the reader was removed");
  // The worker goes at once; a transmit still running there finishes on its
  // own thread and its result is dropped (issue 18: joining it here froze the
  // main loop while a card that never answers kept SCardTransmit waiting).
  readers_.erase(it);
  listener_->reader_removed(*this, id);
}

void PcscSource::on_card_inserted(const std::string& name, std::vector<std::uint8_t> atr) {
  auto it = find(name);
  if (!listener_ || it == readers_.end()) return;
  Reader& reader = it->second;
  reader.card = true;
  reader.worker->card_changed(true);
  g_message("PC/SC: card in \"%s\", ATR %s", name.c_str(), vscard::to_hex(atr).c_str());
  listener_->card_inserted(*this, it->first, std::move(atr));
}

void PcscSource::on_card_removed(const std::string& name) {
  auto it = find(name);
  if (!listener_ || it == readers_.end() || !it->second.card) return;
  Reader& reader = it->second;
  reader.card = false;
  reader.worker->card_changed(false);
  g_message("PC/SC: card removed from \"%s\"", name.c_str());
  // Answer what is outstanding now: the worker may be blocked in SCardTransmit
  // on a card that will never answer; the host must not wait for it.
  fail_pending(reader, "the card was removed");
  listener_->card_removed(*this, it->first);
}

void PcscSource::fail_pending(Reader& reader, const std::string& why) {
  auto pending = std::move(reader.pending);
  reader.pending.clear();
  for (auto& p : pending) {
    ApduResult result;
    result.error = why;
    p.done(std::move(result));
  }
}

void PcscSource::transmit(SourceReaderId id, std::vector<std::uint8_t> apdu,
                          std::size_t max_response, ApduDone done) {
  Reader* reader = reader_with_card(id, done);
  if (reader == nullptr) return;
  reader->worker->transmit(std::move(apdu), max_response, queue_job(id, *reader, std::move(done)));
}

PcscSource::Reader* PcscSource::reader_with_card(SourceReaderId id, ApduDone& done) {
  auto it = readers_.find(id);
  if (it != readers_.end() && it->second.card) return &it->second;
  // Answer later, never inside the call (card_source.h's contract).
  ApduResult result;
  result.error = it == readers_.end() ? "no such reader" : "no card in the reader";
  poster_->post([done = std::move(done), result = std::move(result)]() mutable {
    done(std::move(result));
  });
  return nullptr;
}

PcscReaderWorker::Done PcscSource::queue_job(SourceReaderId id, Reader& reader, ApduDone done) {
  // In the reader's queue, so answered in order with its other jobs.
  std::uint64_t serial = next_serial_++;
  reader.pending.push_back({serial, std::move(done)});
  return [this, id, serial](PcscTransmitResult result) {
    poster_->post([this, id, serial, result = std::move(result)]() mutable {
      on_transmit_done(id, serial, std::move(result));
    });
  };
}

bool PcscSource::card_control(SourceReaderId id, vscard::CardControlEvent event,
                              ApduDone done) {
  if (!options_.reset_card) return false;
  if (event != vscard::CardControlEvent::PowerOff && !vscard::card_control_wants_atr(event)) {
    return false;
  }
  Reader* reader = reader_with_card(id, done);
  if (reader == nullptr) return true;
  using Power = PcscReaderWorker::Power;
  const Power action = event == vscard::CardControlEvent::PowerOff  ? Power::Off
                       : event == vscard::CardControlEvent::PowerOn ? Power::ColdReset
                                                                    : Power::WarmReset;
  reader->worker->power(action, queue_job(id, *reader, std::move(done)));
  return true;
}

void PcscSource::on_transmit_done(SourceReaderId id, std::uint64_t serial,
                                  PcscTransmitResult result) {
  auto it = readers_.find(id);
  if (it == readers_.end()) return;
  auto& pending = it->second.pending;
  // Answered already (card removed meanwhile): drop the late result.
  if (pending.empty() || pending.front().serial != serial) return;
  ApduDone done = std::move(pending.front().done);
  pending.pop_front();
  ApduResult out;
  out.ok = result.ok;
  out.response = std::move(result.response);
  out.error = std::move(result.error);
  if (!out.ok) g_warning("PC/SC: %s", out.error.c_str());
  done(std::move(out));
}

}  // namespace vscclient
