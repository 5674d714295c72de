// SPDX-License-Identifier: LGPL-2.1-or-later
// RAII for libpcsclite handles (see pcsc_handles.h).
#include "pcsc_handles.h"

#include <PCSC/pcsclite.h>

#include <cstdio>

namespace vscclient {

std::string pcsc_error_text(LONG rv) {
  char code[32];
  std::snprintf(code, sizeof code, " (0x%08lX)", static_cast<unsigned long>(rv));
  return std::string(pcsc_stringify_error(rv)) + code;
}

LONG PcscContext::establish() {
  release();
  LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &handle_);
  valid_ = rv == SCARD_S_SUCCESS;
  if (!valid_) handle_ = 0;
  return rv;
}

void PcscContext::release() {
  if (valid_) SCardReleaseContext(handle_);
  valid_ = false;
  handle_ = 0;
}

LONG PcscCard::connect(const PcscContext& context, const std::string& reader, DWORD share_mode) {
  disconnect();
  share_mode_ = share_mode;
  DWORD protocol = SCARD_PROTOCOL_UNDEFINED;
  LONG rv = SCardConnect(context.get(), reader.c_str(), share_mode,
                         SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &handle_, &protocol);
  if (rv == SCARD_S_SUCCESS) {
    connected_ = true;
    protocol_ = protocol;
  }
  return rv;
}

LONG PcscCard::reconnect(DWORD initialization) {
  DWORD protocol = SCARD_PROTOCOL_UNDEFINED;
  LONG rv = SCardReconnect(handle_, share_mode_, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                           initialization, &protocol);
  if (rv == SCARD_S_SUCCESS) protocol_ = protocol;
  return rv;
}

LONG PcscCard::atr(std::vector<std::uint8_t>& out) {
  BYTE buffer[MAX_ATR_SIZE];
  DWORD atr_size = sizeof buffer;
  DWORD state = 0;
  DWORD protocol = 0;
  char reader_name[MAX_READERNAME];
  DWORD name_size = sizeof reader_name;
  LONG rv = SCardStatus(handle_, reader_name, &name_size, &state, &protocol, buffer, &atr_size);
  if (rv == SCARD_S_SUCCESS) out.assign(buffer, buffer + atr_size);
  return rv;
}

void PcscCard::disconnect(DWORD disposition) {
  if (connected_) SCardDisconnect(handle_, disposition);
  connected_ = false;
  handle_ = 0;
  protocol_ = SCARD_PROTOCOL_UNDEFINED;
}

LONG PcscCard::transmit(const BYTE* command, DWORD command_size, BYTE* response,
                        DWORD* response_size) {
  // The PCI must match the protocol SCardConnect negotiated (pcsc-lite
  // checks it: SCARD_E_INVALID_VALUE otherwise).
  const SCARD_IO_REQUEST* pci = protocol_ == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
  return SCardTransmit(handle_, pci, command, command_size, nullptr, response, response_size);
}

std::vector<std::string> split_multistring(const char* list, DWORD size) {
  std::vector<std::string> out;
  const char* p = list;
  const char* end = list + size;
  while (p < end && *p) {
    std::string name(p);
    p += name.size() + 1;
    out.push_back(std::move(name));
  }
  return out;
}

}  // namespace vscclient
