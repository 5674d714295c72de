// SPDX-License-Identifier: LGPL-2.1-or-later
// PcscReaderWorker (see pcsc_reader_worker.h).
#include "pcsc_reader_worker.h"

#include <PCSC/pcsclite.h>

#include <algorithm>

namespace vscclient {

PcscReaderWorker::PcscReaderWorker(std::string reader, bool exclusive)
    : state_(std::make_shared<State>()), reader_(reader) {
  state_->reader = std::move(reader);
  state_->exclusive = exclusive;
  // The thread holds the state; detached, it ends by itself once stopping.
  std::thread([state = state_] { state->run(); }).detach();
}

PcscReaderWorker::~PcscReaderWorker() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    state_->jobs.clear();
  }
  state_->cv.notify_all();
}

void PcscReaderWorker::State::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex);
      cv.wait(lock, [this] { return stopping || !jobs.empty(); });
      if (stopping) break;
      job = std::move(jobs.front());
      jobs.pop_front();
    }
    job();
  }
  card.disconnect();
  context.release();
}

void PcscReaderWorker::State::push(std::function<void()> job) {
  {
    std::lock_guard lock(mutex);
    jobs.push_back(std::move(job));
  }
  // Outside the lock: notified under it, the woken thread would find the
  // mutex still held and sleep again on it, and unlocking would have to wake
  // it a second time (two more futex calls and a context switch per APDU,
  // strace of vscclient --pcsc, tests/bench/README.md).
  cv.notify_one();
}

void PcscReaderWorker::transmit(std::vector<std::uint8_t> apdu, std::size_t max_response,
                                Done done) {
  State* state = state_.get();  // the job runs on the thread, which holds the state
  state->push([state, apdu = std::move(apdu), max_response, done = std::move(done)] {
    PcscTransmitResult result = state->do_transmit(apdu, max_response);
    // Under the lock: once the destructor has set `stopping`, its owner may be
    // gone, and `done` (which reaches it) must not run.
    std::lock_guard lock(state->mutex);
    if (!state->stopping) done(std::move(result));
  });
}

void PcscReaderWorker::power(Power action, Done done) {
  State* state = state_.get();
  state->push([state, action, done = std::move(done)] {
    PcscTransmitResult result = state->do_power(action);
    std::lock_guard lock(state->mutex);  // as in transmit()
    if (!state->stopping) done(std::move(result));
  });
}

PcscTransmitResult PcscReaderWorker::State::do_power(Power action) {
  PcscTransmitResult result;
  LONG rv = ensure_connected();
  if (rv == SCARD_S_SUCCESS) {
    if (action == Power::Off) {
      card.disconnect(SCARD_UNPOWER_CARD);
      result.ok = true;
      return result;
    }
    rv = card.reconnect(action == Power::ColdReset ? SCARD_UNPOWER_CARD : SCARD_RESET_CARD);
    if (rv == SCARD_S_SUCCESS) rv = card.atr(result.response);
    if (rv == SCARD_S_SUCCESS) {
      result.ok = true;
      return result;
    }
  }
  result.error = "cannot reset the card in " + reader + ": " + pcsc_error_text(rv);
  card.disconnect();
  if (pcsc_service_gone(rv)) context.release();
  return result;
}

void PcscReaderWorker::card_changed(bool inserted) {
  State* state = state_.get();
  state->push([state, inserted] {
    state->card.disconnect();
    if (inserted && state->exclusive) state->ensure_connected();
  });
}

LONG PcscReaderWorker::State::ensure_connected() {
  if (card.connected()) return SCARD_S_SUCCESS;
  if (!context.valid()) {
    LONG rv = context.establish();
    if (rv != SCARD_S_SUCCESS) return rv;
  }
  LONG rv = card.connect(context, reader,
                          exclusive ? SCARD_SHARE_EXCLUSIVE : SCARD_SHARE_SHARED);
  if (pcsc_service_gone(rv)) context.release();
  return rv;
}

PcscTransmitResult PcscReaderWorker::State::do_transmit(const std::vector<std::uint8_t>& apdu,
                                                 std::size_t max_response) {
  PcscTransmitResult result;
  auto fail = [&](const std::string& what, LONG rv) {
    result.ok = false;
    result.error = what + ": " + pcsc_error_text(rv);
    if (pcsc_service_gone(rv)) {
      card.disconnect();
      context.release();
    } else if (pcsc_card_gone(rv)) {
      card.disconnect();
    }
    return result;
  };

  // pcsc-lite refuses buffers beyond its extended-APDU limit. The buffer is
  // the worker's, kept from one APDU to the next: a new one was up to 64 KiB
  // allocated and zeroed per APDU, for a response of a few bytes.
  const std::size_t limit = std::clamp<std::size_t>(max_response, 2, MAX_BUFFER_SIZE_EXTENDED);
  if (buffer.size() < limit) buffer.resize(limit);
  for (int attempt = 0; attempt < 2; ++attempt) {
    LONG rv = ensure_connected();
    // After a pcscd restart this worker's context is the old daemon's: the
    // first connect fails with SCARD_E_NO_SERVICE and releases it; establish
    // a new one once (found by test_vscclient_pcsc's pcscd restart).
    if (pcsc_service_gone(rv) && attempt == 0) continue;
    if (rv != SCARD_S_SUCCESS) return fail("cannot connect to the card in " + reader, rv);
    DWORD size = static_cast<DWORD>(limit);
    rv = card.transmit(apdu.data(), static_cast<DWORD>(apdu.size()), buffer.data(), &size);
    if (rv == SCARD_S_SUCCESS && size < 2) {
      // A response APDU ends with SW1 SW2 (ISO 7816-4 5.1). vpcd reports a card
      // program that vanished mid-command as success with 0 bytes (ifd-vpcd.c,
      // IFDHTransmitToICC): that is a lost card, not a response.
      card.disconnect();
      result.error = "the card in " + reader + " returned " + std::to_string(size) +
                     " bytes, no status word (removed?)";
      return result;
    }
    if (rv == SCARD_S_SUCCESS) {
      result.ok = true;
      result.response.assign(buffer.begin(), buffer.begin() + size);
      return result;
    }
    if (rv == SCARD_W_RESET_CARD && attempt == 0) {
      // Another application reset the card: our handle must acknowledge it
      // with SCardReconnect before it works again; then retry once.
      LONG again = card.reconnect();
      if (again == SCARD_S_SUCCESS) continue;
      card.disconnect();
      return fail("cannot reconnect after the card in " + reader + " was reset", again);
    }
    if (rv == SCARD_E_INSUFFICIENT_BUFFER)
      return fail("the response of the card in " + reader + " exceeds " +
                      std::to_string(limit) + " bytes", rv);
    if (rv == SCARD_W_RESET_CARD) card.disconnect();
    return fail("APDU to the card in " + reader + " failed", rv);
  }
  return result;
}

}  // namespace vscclient
