// SPDX-License-Identifier: LGPL-2.1-or-later
// A realistic CAC session, as a middleware logging in with a CAC would run it:
// select each of the three PKI applets and read its certificate, VERIFY the
// PIN, then one RSA-2048 signature with the signature key. Written against a
// `transmit(command, response)` function so that the same APDUs run through the
// bridge (apdu_driver) and in-process against libcacard (cacard_xfr).
//
// CAC facts, from libcacard's src/cac.c and src/card_7816.c:
// - PKI applet i has AID A0 00 00 00 79 01 0i (cac_new_pki_applet); the three
//   --soft-card certificates are applets 0, 1, 2 (CAC ID, signature, encryption).
// - READ BUFFER (CLA 80, INS 52): P1 P2 = offset, data = [which, size] with
//   which 01 = tag buffer, 02 = value buffer. Both buffers start with their own
//   length, two bytes LSB first (cac_new_pki_applet_private). A response longer
//   than Le is not truncated but parked for GET RESPONSE (61 XX,
//   vcard_response_new_bytes), so every READ BUFFER carries Le = size.
// - VERIFY (00 20 00 00 Lc PIN) goes to vcard_emul_login -> PK11_Authenticate
//   on the NSS token; the --soft-card token has an empty password
//   (vscclient/soft_card.cc), so NSS needs no login and any PIN succeeds.
// - SIGN/DECRYPT (80 42 P1 00): P1 80 = more data follows, 00 = last part;
//   the concatenated 256 bytes go to a raw RSA private-key operation
//   (vcard_emul_rsa_op), the 256-byte result comes back with Le = 00.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace bench {

using ApduBytes = std::vector<std::uint8_t>;
// Sends one command APDU and stores the whole response (data + SW) in
// `response`. False if the transport failed.
using Transmit = std::function<bool(const ApduBytes& command, ApduBytes& response)>;

struct CacSessionResult {
  bool ok = false;
  std::string error;  // what went wrong when !ok
  int apdus = 0;      // commands sent, GET RESPONSE included
  std::size_t certificate_bytes = 0;
};

class CacSession {
 public:
  explicit CacSession(Transmit transmit) : transmit_(std::move(transmit)) {}

  CacSessionResult run() {
    result_ = {};
    for (std::uint8_t applet = 0; applet < 3; ++applet) {
      if (!select_pki(applet) || !read_certificate()) return result_;
    }
    // The CAC's PIN: eight bytes, ASCII digits padded with FF (libcacard strips
    // the FF padding, vcard_emul_login).
    ApduBytes verify = {0x00, 0x20, 0x00, 0x00, 0x08, '1', '2', '3', '4', '5', '6', 0xFF, 0xFF};
    if (!exchange(verify) || !status_ok("VERIFY")) return result_;
    if (!select_pki(1) || !sign()) return result_;
    result_.ok = true;
    return result_;
  }

 private:
  bool fail(std::string what) {
    result_.error = std::move(what);
    return false;
  }
  // One command, with GET RESPONSE while the card says 61 XX.
  bool exchange(const ApduBytes& command) {
    ++result_.apdus;
    if (!transmit_(command, response_)) return fail("transport failed");
    data_.assign(response_.begin(), response_.end());
    while (data_.size() >= 2 && data_[data_.size() - 2] == 0x61) {
      std::uint8_t le = data_.back();
      data_.resize(data_.size() - 2);
      ++result_.apdus;
      if (!transmit_({0x00, 0xC0, 0x00, 0x00, le}, response_)) return fail("transport failed");
      data_.insert(data_.end(), response_.begin(), response_.end());
    }
    return true;
  }
  bool status_ok(const char* what) {
    if (data_.size() >= 2 && data_[data_.size() - 2] == 0x90 && data_.back() == 0x00) return true;
    char sw[8] = "none";
    if (data_.size() >= 2) std::snprintf(sw, sizeof sw, "%02X%02X", data_[data_.size() - 2], data_.back());
    return fail(std::string(what) + " answered " + sw);
  }
  bool select_pki(std::uint8_t applet) {
    return exchange({0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x79, 0x01, applet}) &&
           status_ok("SELECT PKI applet");
  }
  bool read_buffer(std::uint8_t which, std::size_t offset, std::uint8_t size) {
    return exchange({0x80, 0x52, static_cast<std::uint8_t>(offset >> 8),
                     static_cast<std::uint8_t>(offset & 0xFF), 0x02, which, size, size}) &&
           status_ok("READ BUFFER");
  }
  bool read_certificate() {
    // Tag buffer length, then value buffer length, then the value buffer.
    if (!read_buffer(0x01, 0, 2) || data_.size() != 4) return fail("tag buffer length");
    if (!read_buffer(0x02, 0, 2) || data_.size() != 4) return fail("value buffer length");
    std::size_t length = data_[0] | (static_cast<std::size_t>(data_[1]) << 8);
    std::size_t read = 0;
    while (read < length) {
      std::size_t chunk = std::min<std::size_t>(length - read, 0xFF);
      if (!read_buffer(0x02, 2 + read, static_cast<std::uint8_t>(chunk))) return false;
      if (data_.size() != chunk + 2) return fail("short READ BUFFER answer");
      read += chunk;
    }
    result_.certificate_bytes += length;
    return true;
  }
  bool sign() {
    // An EMSA-PKCS1-v1_5 block for SHA-256 (RFC 8017 9.2): 00 01 FF.. 00 DigestInfo hash.
    static const std::uint8_t kDigestInfo[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86,
                                               0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
                                               0x00, 0x04, 0x20};
    ApduBytes block(256, 0xFF);
    block[0] = 0x00;
    block[1] = 0x01;
    std::size_t tail = sizeof kDigestInfo + 32;
    block[256 - tail - 1] = 0x00;
    std::copy(std::begin(kDigestInfo), std::end(kDigestInfo), block.end() - static_cast<long>(tail));
    for (std::size_t i = 0; i < 32; ++i) block[256 - 32 + i] = static_cast<std::uint8_t>(i);
    ApduBytes first = {0x80, 0x42, 0x80, 0x00, 0x80};
    first.insert(first.end(), block.begin(), block.begin() + 128);
    if (!exchange(first) || !status_ok("SIGN (first part)")) return false;
    ApduBytes last = {0x80, 0x42, 0x00, 0x00, 0x80};
    last.insert(last.end(), block.begin() + 128, block.end());
    last.push_back(0x00);  // Le = 256
    if (!exchange(last) || !status_ok("SIGN")) return false;
    if (data_.size() != 258) return fail("signature is not 256 bytes");
    return true;
  }

  Transmit transmit_;
  CacSessionResult result_;
  ApduBytes response_;
  ApduBytes data_;
};

}  // namespace bench
