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

void PcscReaderWorker::transmit(std::vector<std::uint8_t> apdu, std::size_t max_response,
                                Done done) {
  std::lock_guard lock(state_->mutex);
  State* state = state_.get();  // the job runs on the thread, which holds the state
  state->jobs.push_back([state, apdu = std::move(apdu), max_response, done = std::move(done)] {
    PcscTransmitResult result = state->do_transmit(apdu, max_response);
    // Under the lock: once the destructor has set `stopping`, its owner may be
    // gone, and `done` (which reaches it) must not run.
    std::lock_guard lock(state->mutex);
    if (!state->stopping) done(std::move(result));
  });
  state->cv.notify_one();
}

void PcscReaderWorker::power(Power action, Done done) {
  std::lock_guard lock(state_->mutex);
  State* state = state_.get();
  state->jobs.push_back([state, action, done = std::move(done)] {
    PcscTransmitResult result = state->do_power(action);
    std::lock_guard lock(state->mutex);  // as in transmit()
    if (!state->stopping) done(std::move(result));
  });
  state->cv.notify_one();
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
  std::lock_guard lock(state_->mutex);
  State* state = state_.get();
  state->jobs.push_back([state, inserted] {
    state->card.disconnect();
    if (inserted && state->exclusive) state->ensure_connected();
  });
  state->cv.notify_one();
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

  // pcsc-lite refuses buffers beyond its extended-APDU limit.
  std::vector<std::uint8_t> buffer(
      std::clamp<std::size_t>(max_response, 2, MAX_BUFFER_SIZE_EXTENDED));
  for (int attempt = 0; attempt < 2; ++attempt) {
    LONG rv = ensure_connected();
    // After a pcscd restart this worker's context is the old daemon's: the
    // first connect fails with SCARD_E_NO_SERVICE and releases it; establish
    // a new one once (found by test_vscclient_pcsc's pcscd restart).
    if (pcsc_service_gone(rv) && attempt == 0) continue;
    if (rv != SCARD_S_SUCCESS) return fail("cannot connect to the card in " + reader, rv);
    DWORD size = static_cast<DWORD>(buffer.size());
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
      buffer.resize(size);
      result.ok = true;
      result.response = std::move(buffer);
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
                      std::to_string(buffer.size()) + " bytes", rv);
    if (rv == SCARD_W_RESET_CARD) card.disconnect();
    return fail("APDU to the card in " + reader + " failed", rv);
  }
  return result;
}

}  // namespace vscclient
