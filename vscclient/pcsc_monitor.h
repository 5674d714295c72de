// SPDX-License-Identifier: LGPL-2.1-or-later
// PcscMonitor: one thread that learns readers and cards from pcscd.
//
// It blocks in SCardGetStatusChange (no polling) on the readers selected by a
// ReaderPattern plus pcsc-lite's "\\?PnP?\Notification" pseudo-reader, which
// wakes it when readers are plugged in or out. When pcscd goes away it reports
// that once, reports the cards as removed, and establishes a new context with
// capped exponential backoff; when pcscd is back it lists the readers again
// and reports what changed (readers that did not come back are removed).
//
// The events are called on the monitor thread; the PC/SC source posts them to
// the main context.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pcsc_handles.h"
#include "pcsc_pattern.h"

namespace vscclient {

class PcscMonitorEvents {
 public:
  virtual ~PcscMonitorEvents() = default;
  virtual void reader_added(const std::string& name) = 0;
  // A card in it was reported removed first.
  virtual void reader_removed(const std::string& name) = 0;
  virtual void card_inserted(const std::string& name, std::vector<std::uint8_t> atr) = 0;
  virtual void card_removed(const std::string& name) = 0;
  // pcscd is not reachable (once per outage; cards were reported removed).
  virtual void service_lost(const std::string& reason) = 0;
  virtual void service_back() = 0;
  // The readers pcscd lists changed and none matches the pattern (for one log line).
  virtual void no_matching_reader(const std::vector<std::string>& all_readers) = 0;
};

class PcscMonitor {
 public:
  struct Options {
    ReaderPattern pattern;
    // libcacard's -p: only the first reader pcscd lists (that matches).
    bool first_reader_only = false;
    std::chrono::milliseconds backoff_initial{250};
    std::chrono::milliseconds backoff_max{5000};
  };

  PcscMonitor(Options options, PcscMonitorEvents& events);
  ~PcscMonitor();  // stop()
  PcscMonitor(const PcscMonitor&) = delete;
  PcscMonitor& operator=(const PcscMonitor&) = delete;

  void start();
  // Wakes the thread (SCardCancel) and joins it; no event is called afterwards.
  void stop();

 private:
  struct Reader {
    DWORD state = SCARD_STATE_UNAWARE;  // the last dwEventState, fed back as current
    bool card = false;
  };
  void run();
  bool sleep_backoff(std::chrono::milliseconds delay);
  // Lists readers and reports additions/removals. False if pcscd went away.
  bool refresh_readers(LONG* rv);
  void lose_service(LONG rv);
  void remove_reader(std::map<std::string, Reader>::iterator it);
  void apply_state(const std::string& name, Reader& reader, const SCARD_READERSTATE& state);

  Options options_;
  PcscMonitorEvents& events_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;  // for cv_: backoff sleeps and stop()'s wait for the thread's end
  std::condition_variable cv_;
  bool exited_ = false;  // guarded by mutex_
  PcscContext context_;  // used by the monitor thread only
  // The context's handle, for SCardCancel from stop() (pcsc-lite looks a
  // handle up by value, so a stale one only gives SCARD_E_INVALID_HANDLE).
  std::atomic<SCARDCONTEXT> cancel_handle_{0};
  std::map<std::string, Reader> readers_;
  DWORD pnp_state_ = SCARD_STATE_UNAWARE;
  bool service_down_reported_ = false;
  std::vector<std::string> last_unmatched_;
};

}  // namespace vscclient
