// SPDX-License-Identifier: LGPL-2.1-or-later
// PcscReaderWorker: the thread that talks to the card in one PC/SC reader.
//
// One worker per reader, so a slow card (or a long SCardTransmit) never stalls
// APDUs to another reader or the main loop. Jobs run one at a time, in order,
// on the worker's own PC/SC context (pcsc-lite serializes calls per context).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pcsc_handles.h"

namespace vscclient {

struct PcscTransmitResult {
  bool ok = false;
  std::vector<std::uint8_t> response;  // data + SW1 SW2 when ok
  std::string error;                   // one line for the log when !ok
};

class PcscReaderWorker {
 public:
  // `exclusive`: SCARD_SHARE_EXCLUSIVE (no other application may use the card
  // while we hold it), else SCARD_SHARE_SHARED.
  PcscReaderWorker(std::string reader, bool exclusive);
  // Drops queued jobs and returns at once: a job still running (a card that
  // never answers keeps SCardTransmit waiting until pcscd gives up) finishes
  // on its own thread, which then ends; its `done` is not called. Joining it
  // froze the main loop (issue 18).
  ~PcscReaderWorker();
  PcscReaderWorker(const PcscReaderWorker&) = delete;
  PcscReaderWorker& operator=(const PcscReaderWorker&) = delete;

  using Done = std::function<void(PcscTransmitResult)>;
  // Sends `apdu` to the card; `done` runs on the worker thread, never after
  // the worker is destroyed (so it must not block: it posts). The response
  // may be up to `max_response` bytes (capped at pcsc-lite's extended limit).
  void transmit(std::vector<std::uint8_t> apdu, std::size_t max_response, Done done);
  // vscclient --pcsc-reset: a power event from the host's application.
  // Off: SCardDisconnect(SCARD_UNPOWER_CARD) (the next APDU connects and
  // powers it again); ColdReset: SCardReconnect(SCARD_UNPOWER_CARD);
  // WarmReset: SCardReconnect(SCARD_RESET_CARD). `response` is the ATR after a
  // reset (SCardStatus). pcscd resets a shared card for every application.
  enum class Power { Off, ColdReset, WarmReset };
  void power(Power action, Done done);
  // A new card is in the reader (or none): forget the old card's handle;
  // in exclusive mode connect to the new card at once to hold it.
  void card_changed(bool inserted);

  const std::string& reader() const { return reader_; }

 private:
  // Everything the thread uses: shared with it, so the thread can outlive the
  // worker object.
  struct State {
    std::string reader;
    bool exclusive;
    PcscContext context;  // worker thread only
    PcscCard card;        // worker thread only
    std::vector<std::uint8_t> buffer;  // worker thread only: SCardTransmit's response
    std::mutex mutex;     // guards jobs, stopping, and every `done` call
    std::condition_variable cv;
    std::deque<std::function<void()>> jobs;
    bool stopping = false;

    void run();
    void push(std::function<void()> job);
    PcscTransmitResult do_transmit(const std::vector<std::uint8_t>& apdu, std::size_t max_response);
    LONG ensure_connected();
    PcscTransmitResult do_power(Power action);
  };

  std::shared_ptr<State> state_;
  std::string reader_;
};

}  // namespace vscclient
