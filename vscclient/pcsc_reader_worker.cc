// SPDX-License-Identifier: LGPL-2.1-or-later
// PcscReaderWorker (see pcsc_reader_worker.h).
#include "pcsc_reader_worker.h"

#include <PCSC/pcsclite.h>

#include <algorithm>

namespace vscclient {

PcscReaderWorker::PcscReaderWorker(std::string reader, bool exclusive)
    : reader_(std::move(reader)), exclusive_(exclusive), thread_([this] { run(); }) {}

PcscReaderWorker::~PcscReaderWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  thread_.join();
}

void PcscReaderWorker::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) break;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
  card_.disconnect();
  context_.release();
}

void PcscReaderWorker::transmit(std::vector<std::uint8_t> apdu, std::size_t max_response,
                                Done done) {
  std::lock_guard lock(mutex_);
  jobs_.push_back([this, apdu = std::move(apdu), max_response, done = std::move(done)] {
    done(do_transmit(apdu, max_response));
  });
  cv_.notify_one();
}

void PcscReaderWorker::power(Power action, Done done) {
  std::lock_guard lock(mutex_);
  jobs_.push_back([this, action, done = std::move(done)] { done(do_power(action)); });
  cv_.notify_one();
}

PcscTransmitResult PcscReaderWorker::do_power(Power action) {
  PcscTransmitResult result;
  LONG rv = ensure_connected();
  if (rv == SCARD_S_SUCCESS) {
    if (action == Power::Off) {
      card_.disconnect(SCARD_UNPOWER_CARD);
      result.ok = true;
      return result;
    }
    rv = card_.reconnect(action == Power::ColdReset ? SCARD_UNPOWER_CARD : SCARD_RESET_CARD);
    if (rv == SCARD_S_SUCCESS) rv = card_.atr(result.response);
    if (rv == SCARD_S_SUCCESS) {
      result.ok = true;
      return result;
    }
  }
  result.error = "cannot reset the card in " + reader_ + ": " + pcsc_error_text(rv);
  card_.disconnect();
  if (pcsc_service_gone(rv)) context_.release();
  return result;
}

void PcscReaderWorker::card_changed(bool inserted) {
  std::lock_guard lock(mutex_);
  jobs_.push_back([this, inserted] {
    card_.disconnect();
    if (inserted && exclusive_) ensure_connected();
  });
  cv_.notify_one();
}

LONG PcscReaderWorker::ensure_connected() {
  if (card_.connected()) return SCARD_S_SUCCESS;
  if (!context_.valid()) {
    LONG rv = context_.establish();
    if (rv != SCARD_S_SUCCESS) return rv;
  }
  LONG rv = card_.connect(context_, reader_,
                          exclusive_ ? SCARD_SHARE_EXCLUSIVE : SCARD_SHARE_SHARED);
  if (pcsc_service_gone(rv)) context_.release();
  return rv;
}

PcscTransmitResult PcscReaderWorker::do_transmit(const std::vector<std::uint8_t>& apdu,
                                                 std::size_t max_response) {
  PcscTransmitResult result;
  auto fail = [&](const std::string& what, LONG rv) {
    result.ok = false;
    result.error = what + ": " + pcsc_error_text(rv);
    if (pcsc_service_gone(rv)) {
      card_.disconnect();
      context_.release();
    } else if (pcsc_card_gone(rv)) {
      card_.disconnect();
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
    if (rv != SCARD_S_SUCCESS) return fail("cannot connect to the card in " + reader_, rv);
    DWORD size = static_cast<DWORD>(buffer.size());
    rv = card_.transmit(apdu.data(), static_cast<DWORD>(apdu.size()), buffer.data(), &size);
    if (rv == SCARD_S_SUCCESS && size < 2) {
      // A response APDU ends with SW1 SW2 (ISO 7816-4 5.1). vpcd reports a card
      // program that vanished mid-command as success with 0 bytes (ifd-vpcd.c,
      // IFDHTransmitToICC): that is a lost card, not a response.
      card_.disconnect();
      result.error = "the card in " + reader_ + " returned " + std::to_string(size) +
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
      LONG again = card_.reconnect();
      if (again == SCARD_S_SUCCESS) continue;
      card_.disconnect();
      return fail("cannot reconnect after the card in " + reader_ + " was reset", again);
    }
    if (rv == SCARD_E_INSUFFICIENT_BUFFER)
      return fail("the response of the card in " + reader_ + " exceeds " +
                      std::to_string(buffer.size()) + " bytes", rv);
    if (rv == SCARD_W_RESET_CARD) card_.disconnect();
    return fail("APDU to the card in " + reader_ + " failed", rv);
  }
  return result;
}

}  // namespace vscclient
