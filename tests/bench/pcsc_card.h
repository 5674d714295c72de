// SPDX-License-Identifier: LGPL-2.1-or-later
// A shared-mode PC/SC connection to the card in one reader, for the bench
// programs that send APDUs straight to it (pcsc_direct, apdu_driver
// --direct-reader): the baseline of vscclient --pcsc, which connects shared by
// default. Header-only, like bench_util.h.
#pragma once

#include <winscard.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

class PcscCard {
 public:
  PcscCard() = default;
  PcscCard(const PcscCard&) = delete;
  PcscCard& operator=(const PcscCard&) = delete;
  ~PcscCard() {
    if (card_ != 0) SCardDisconnect(card_, SCARD_LEAVE_CARD);
    if (context_ != 0) SCardReleaseContext(context_);
  }

  // Connects to the card in `reader`; on failure `error` says which call failed.
  bool open(const std::string& reader, std::string& error) {
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &context_);
    if (rv != SCARD_S_SUCCESS) {
      context_ = 0;
      error = std::string("SCardEstablishContext: ") + pcsc_stringify_error(rv);
      return false;
    }
    DWORD protocol = 0;
    rv = SCardConnect(context_, reader.c_str(), SCARD_SHARE_SHARED,
                      SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card_, &protocol);
    if (rv != SCARD_S_SUCCESS) {
      card_ = 0;
      error = std::string("SCardConnect: ") + pcsc_stringify_error(rv);
      return false;
    }
    pci_ = protocol == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_T0;
    response_.resize(65538);
    return true;
  }

  // One SCardTransmit; the response stays in response() until the next call.
  LONG transmit(const std::vector<std::uint8_t>& apdu) {
    DWORD size = static_cast<DWORD>(response_.capacity());
    response_.resize(size);
    LONG rv = SCardTransmit(card_, pci_, apdu.data(), static_cast<DWORD>(apdu.size()), nullptr,
                            response_.data(), &size);
    response_.resize(rv == SCARD_S_SUCCESS ? size : 0);
    return rv;
  }
  const std::vector<std::uint8_t>& response() const { return response_; }

 private:
  SCARDCONTEXT context_ = 0;
  SCARDHANDLE card_ = 0;
  const SCARD_IO_REQUEST* pci_ = SCARD_PCI_T0;
  std::vector<std::uint8_t> response_;
};

}  // namespace bench
