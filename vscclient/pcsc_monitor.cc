// SPDX-License-Identifier: LGPL-2.1-or-later
// PcscMonitor (see pcsc_monitor.h).
#include "pcsc_monitor.h"

#include <PCSC/pcsclite.h>

#include <algorithm>

namespace vscclient {

namespace {

// pcsc-lite's plug-and-play pseudo-reader (pcsclite.h, PCSCLITE_PNP_NOTIFICATION
// is not exported by every version, so the name is spelled out).
constexpr char kPnpReader[] = "\\\\?PnP?\\Notification";

// The card event counter pcsc-lite keeps in the high 16 bits of dwEventState:
// it changes when a card is removed and another inserted between two waits.
constexpr DWORD event_count(DWORD state) { return state >> 16; }

constexpr bool card_in(DWORD state) {
  return (state & SCARD_STATE_PRESENT) != 0 && (state & SCARD_STATE_MUTE) == 0;
}

}  // namespace

PcscMonitor::PcscMonitor(Options options, PcscMonitorEvents& events)
    : options_(std::move(options)), events_(events) {}

PcscMonitor::~PcscMonitor() { stop(); }

void PcscMonitor::start() {
  stopping_ = false;
  exited_ = false;
  thread_ = std::thread([this] { run(); });
}

void PcscMonitor::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  std::unique_lock lock(mutex_);
  cv_.notify_all();
  // SCardCancel only wakes a SCardGetStatusChange that is already waiting, and
  // the thread may be just about to call it: cancel until the thread has ended.
  while (!exited_) {
    SCARDCONTEXT handle = cancel_handle_.load();
    if (handle != 0) SCardCancel(handle);
    cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
  lock.unlock();
  thread_.join();
}

bool PcscMonitor::sleep_backoff(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void PcscMonitor::lose_service(LONG rv) {
  for (auto& [name, reader] : readers_) {
    if (reader.card) {
      reader.card = false;
      events_.card_removed(name);
    }
    reader.state = SCARD_STATE_UNAWARE;
  }
  pnp_state_ = SCARD_STATE_UNAWARE;
  if (!service_down_reported_) {
    service_down_reported_ = true;
    events_.service_lost(pcsc_error_text(rv));
  }
  cancel_handle_ = 0;
  context_.release();
}

void PcscMonitor::remove_reader(std::map<std::string, Reader>::iterator it) {
  if (it->second.card) events_.card_removed(it->first);
  events_.reader_removed(it->first);
  readers_.erase(it);
}

bool PcscMonitor::refresh_readers(LONG* rv_out) {
  DWORD size = 0;
  LONG rv = SCardListReaders(context_.get(), nullptr, nullptr, &size);
  std::vector<std::string> all;
  if (rv == SCARD_S_SUCCESS) {
    std::string buffer(size, '\0');
    rv = SCardListReaders(context_.get(), nullptr, buffer.data(), &size);
    if (rv == SCARD_S_SUCCESS) all = split_multistring(buffer.data(), size);
  }
  if (rv == SCARD_E_NO_READERS_AVAILABLE) rv = SCARD_S_SUCCESS;
  if (rv != SCARD_S_SUCCESS) {
    *rv_out = rv;
    return false;
  }
  std::vector<std::string> selected;
  for (const auto& name : all) {
    if (!options_.pattern.matches(name)) continue;
    if (options_.first_reader_only && !selected.empty()) break;
    selected.push_back(name);
  }
  if (options_.first_reader_only && !readers_.empty()) {
    // -p keeps the reader it chose while that reader exists.
    const std::string& chosen = readers_.begin()->first;
    if (std::find(all.begin(), all.end(), chosen) != all.end()) selected = {chosen};
  }
  for (auto it = readers_.begin(); it != readers_.end();) {
    auto next = std::next(it);
    if (std::find(selected.begin(), selected.end(), it->first) == selected.end())
      remove_reader(it);
    it = next;
  }
  for (const auto& name : selected) {
    if (readers_.emplace(name, Reader{}).second) events_.reader_added(name);
  }
  if (selected.empty() && all != last_unmatched_) events_.no_matching_reader(all);
  last_unmatched_ = selected.empty() ? all : std::vector<std::string>{};
  return true;
}

void PcscMonitor::apply_state(const std::string& name, Reader& reader,
                              const SCARD_READERSTATE& state) {
  DWORD now = state.dwEventState;
  bool present = card_in(now);
  // A card swapped between two waits: same presence, new event count.
  bool swapped = reader.card && present && reader.state != SCARD_STATE_UNAWARE &&
                 event_count(now) != event_count(reader.state);
  if (reader.card && (!present || swapped)) {
    reader.card = false;
    events_.card_removed(name);
  }
  if (!reader.card && present) {
    reader.card = true;
    DWORD atr_size = std::min<DWORD>(state.cbAtr, MAX_ATR_SIZE);
    events_.card_inserted(name, std::vector<std::uint8_t>(state.rgbAtr, state.rgbAtr + atr_size));
  }
  reader.state = now & ~static_cast<DWORD>(SCARD_STATE_CHANGED);
}

void PcscMonitor::run() {
  std::chrono::milliseconds backoff = options_.backoff_initial;
  while (!stopping_) {
    if (!context_.valid()) {
      LONG rv = context_.establish();
      if (rv != SCARD_S_SUCCESS) {
        lose_service(rv);
        if (!sleep_backoff(backoff)) break;
        backoff = std::min(backoff * 2, options_.backoff_max);
        continue;
      }
      cancel_handle_ = context_.get();
      if (service_down_reported_) events_.service_back();
      service_down_reported_ = false;
      last_unmatched_.clear();
      LONG list_rv = SCARD_S_SUCCESS;
      if (!refresh_readers(&list_rv)) {
        lose_service(list_rv);
        continue;
      }
      backoff = options_.backoff_initial;
    }

    std::vector<SCARD_READERSTATE> states;
    std::vector<std::string> names;
    for (auto& [name, reader] : readers_) {
      names.push_back(name);
      SCARD_READERSTATE s{};
      s.dwCurrentState = reader.state;
      states.push_back(s);
    }
    SCARD_READERSTATE pnp{};
    pnp.szReader = kPnpReader;
    pnp.dwCurrentState = pnp_state_;
    states.push_back(pnp);
    for (std::size_t i = 0; i < names.size(); ++i) states[i].szReader = names[i].c_str();

    LONG rv = SCardGetStatusChange(context_.get(), INFINITE, states.data(),
                                   static_cast<DWORD>(states.size()));
    if (stopping_) break;
    if (rv == SCARD_E_CANCELLED || rv == SCARD_E_TIMEOUT) continue;
    if (pcsc_service_gone(rv)) {
      lose_service(rv);
      continue;
    }
    bool relist = rv == SCARD_E_UNKNOWN_READER;
    if (rv == SCARD_S_SUCCESS) {
      pnp_state_ = states.back().dwEventState & ~static_cast<DWORD>(SCARD_STATE_CHANGED);
      if (states.back().dwEventState & SCARD_STATE_CHANGED) relist = true;
      for (std::size_t i = 0; i < names.size(); ++i) {
        auto it = readers_.find(names[i]);
        if (it == readers_.end()) continue;
        DWORD now = states[i].dwEventState;
        if (now & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE)) {
          relist = true;
          continue;
        }
        if (now & SCARD_STATE_CHANGED) apply_state(names[i], it->second, states[i]);
      }
    } else if (!relist) {
      // Anything else is unexpected; start over with a new context rather
      // than spin on the same error.
      lose_service(rv);
      continue;
    }
    if (relist) {
      LONG list_rv = SCARD_S_SUCCESS;
      if (!refresh_readers(&list_rv)) lose_service(list_rv);
    }
  }
  cancel_handle_ = 0;
  context_.release();
  std::lock_guard lock(mutex_);
  exited_ = true;
  cv_.notify_all();
}

}  // namespace vscclient
