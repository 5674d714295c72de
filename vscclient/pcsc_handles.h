// SPDX-License-Identifier: LGPL-2.1-or-later
// RAII for libpcsclite handles, and the error facts the PC/SC source acts on.
//
// pcsc-lite serializes calls per context, and SCardGetStatusChange holds its
// context for as long as it waits, so every thread that talks to pcscd (the
// reader monitor, each reader's worker) owns a PcscContext of its own.
#pragma once

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vscclient {

// "Service not available. (0x8010001D)": pcsc_stringify_error plus the code.
std::string pcsc_error_text(LONG rv);
// The names in a PC/SC multi-string (SCardListReaders: NUL-separated, NUL-ended).
std::vector<std::string> split_multistring(const char* list, DWORD size);

// pcscd is gone (stopped, restarted) or was never there: the context is dead
// and must be established again (pcsclite.h: SCARD_E_NO_SERVICE,
// SCARD_E_SERVICE_STOPPED; a context that outlived its pcscd gives
// SCARD_E_INVALID_HANDLE).
constexpr bool pcsc_service_gone(LONG rv) {
  return rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED ||
         rv == SCARD_E_INVALID_HANDLE;
}

// The card went away or was swapped under our handle.
constexpr bool pcsc_card_gone(LONG rv) {
  return rv == SCARD_W_REMOVED_CARD || rv == SCARD_E_NO_SMARTCARD ||
         rv == SCARD_W_UNPOWERED_CARD || rv == SCARD_W_UNRESPONSIVE_CARD ||
         rv == SCARD_E_READER_UNAVAILABLE || rv == SCARD_E_UNKNOWN_READER;
}

class PcscContext {
 public:
  PcscContext() = default;
  ~PcscContext() { release(); }
  PcscContext(PcscContext&& other) noexcept
      : handle_(std::exchange(other.handle_, 0)), valid_(std::exchange(other.valid_, false)) {}
  PcscContext& operator=(PcscContext&& other) noexcept {
    if (this != &other) {
      release();
      handle_ = std::exchange(other.handle_, 0);
      valid_ = std::exchange(other.valid_, false);
    }
    return *this;
  }
  PcscContext(const PcscContext&) = delete;
  PcscContext& operator=(const PcscContext&) = delete;

  // SCardEstablishContext(SCARD_SCOPE_SYSTEM); releases any previous context.
  LONG establish();
  void release();
  bool valid() const { return valid_; }
  SCARDCONTEXT get() const { return handle_; }

 private:
  SCARDCONTEXT handle_ = 0;
  bool valid_ = false;
};

// A connection to the card in one reader (SCardConnect ... SCardDisconnect).
class PcscCard {
 public:
  PcscCard() = default;
  ~PcscCard() { disconnect(); }
  PcscCard(const PcscCard&) = delete;
  PcscCard& operator=(const PcscCard&) = delete;

  // SCardConnect with T=0 or T=1, whichever the card negotiated.
  LONG connect(const PcscContext& context, const std::string& reader, DWORD share_mode);
  // SCardReconnect. SCARD_LEAVE_CARD after another application reset the card
  // (SCARD_W_RESET_CARD: the reset already happened); SCARD_RESET_CARD or
  // SCARD_UNPOWER_CARD to reset it ourselves (vscclient --pcsc-reset).
  LONG reconnect(DWORD initialization = SCARD_LEAVE_CARD);
  // SCardDisconnect: SCARD_LEAVE_CARD keeps the card usable by host applications.
  void disconnect(DWORD disposition = SCARD_LEAVE_CARD);
  // The card's current ATR (SCardStatus).
  LONG atr(std::vector<std::uint8_t>& out);
  // SCardTransmit with the negotiated protocol's PCI. `response_size` is in/out.
  LONG transmit(const BYTE* command, DWORD command_size, BYTE* response, DWORD* response_size);

  bool connected() const { return connected_; }
  DWORD protocol() const { return protocol_; }

 private:
  SCARDHANDLE handle_ = 0;
  bool connected_ = false;
  DWORD share_mode_ = SCARD_SHARE_SHARED;
  DWORD protocol_ = SCARD_PROTOCOL_UNDEFINED;
};

}  // namespace vscclient
