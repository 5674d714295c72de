// SPDX-License-Identifier: LGPL-2.1-or-later
// Byte-exact vectors for every message type, written by hand from the C structs
// in libcacard's src/vscard_common.h (VSCMsgHeader + payload struct, all integers
// big-endian) and what QEMU's ccid-card-passthru.c sends. Shared by the encoder
// and decoder tests and used as the fuzzers' seed corpus.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vscard/message.h"

namespace vscard::test {

struct Vector {
  std::string name;
  Message message;
  std::vector<std::uint8_t> bytes;
};

inline const std::vector<std::uint8_t>& atr_bytes() {
  // vsmartcard's iso7816 vicc ATR.
  static const std::vector<std::uint8_t> atr{0x3B, 0x95, 0x13, 0x81, 0x01, 0x80,
                                             0x73, 0xFF, 0x01, 0x00, 0x0B};
  return atr;
}

inline const std::vector<std::uint8_t>& apdu_bytes() {
  static const std::vector<std::uint8_t> apdu{0x00, 0xA4, 0x04, 0x00, 0x02, 0x3F, 0x00};
  return apdu;
}

inline std::vector<Vector> wire_vectors() {
  std::vector<Vector> v;
  // QEMU's reply to a client Init: VSCMsgInit{magic "VSCD", version 2, caps {0}}
  // sent with reader_id VSCARD_UNDEFINED_READER_ID.
  v.push_back({"init_qemu", Message{kUndefinedReaderId, Init{}},
               {0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 12,  //
                'V', 'S', 'C', 'D', 0, 0, 0, 2, 0, 0, 0, 0}});
  Init with_reconnect;
  with_reconnect.capabilities.words[0] = kCapabilityReconnect;
  v.push_back({"init_reconnect_cap", Message{kUndefinedReaderId, with_reconnect},
               {0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 12,  //
                'V', 'S', 'C', 'D', 0, 0, 0, 2, 0, 0, 0, 1}});
  Init two_words;
  two_words.capabilities.count = 2;
  two_words.capabilities.words[1] = 0x80000000u;
  v.push_back({"init_two_capability_words", Message{kUndefinedReaderId, two_words},
               {0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 16,  //
                'V', 'S', 'C', 'D', 0, 0, 0, 2, 0, 0, 0, 0, 0x80, 0, 0, 0}});
  // ReaderAdd answered with Error(success) carrying the new reader id (0).
  v.push_back({"error_success_reader0", Message{0, Error{0}},
               {0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0}});
  v.push_back({"error_general", Message{7, Error{1}},
               {0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 4, 0, 0, 0, 1}});
  v.push_back({"error_cannot_add", Message{kUndefinedReaderId, Error{2}},
               {0, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 4, 0, 0, 0, 2}});
  v.push_back({"error_card_already_inserted", Message{0, Error{3}},
               {0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3}});
  // libcacard's vscclient sends ReaderAdd with no name; we send the name.
  v.push_back({"reader_add_unnamed", Message{kUndefinedReaderId, ReaderAdd{}},
               {0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0}});
  v.push_back({"reader_add_named", Message{kUndefinedReaderId, ReaderAdd{"Lecteur é"}},
               {0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 10,  //
                'L', 'e', 'c', 't', 'e', 'u', 'r', ' ', 0xC3, 0xA9}});
  v.push_back({"reader_remove", Message{0, ReaderRemove{}},
               {0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0}});
  std::vector<std::uint8_t> atr_msg{0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 11};
  atr_msg.insert(atr_msg.end(), atr_bytes().begin(), atr_bytes().end());
  v.push_back({"atr_vicc", Message{0, Atr{atr_bytes()}}, atr_msg});
  v.push_back({"card_remove", Message{0, CardRemove{}},
               {0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0}});
  std::vector<std::uint8_t> apdu_msg{0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 7};
  apdu_msg.insert(apdu_msg.end(), apdu_bytes().begin(), apdu_bytes().end());
  v.push_back({"apdu_select", Message{3, Apdu{apdu_bytes()}}, apdu_msg});
  v.push_back({"flush", Message{0, Flush{}}, {0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}});
  v.push_back({"flush_complete", Message{0, FlushComplete{}},
               {0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0}});
  std::vector<std::uint8_t> reconnect_msg{0, 0, 0, 10, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 1, 0};
  const std::string host = "::1", port = "2002";
  reconnect_msg.insert(reconnect_msg.end(), host.begin(), host.end());
  reconnect_msg.insert(reconnect_msg.end(), kReconnectFieldSize - host.size(), 0);
  reconnect_msg.insert(reconnect_msg.end(), port.begin(), port.end());
  reconnect_msg.insert(reconnect_msg.end(), kReconnectFieldSize - port.size(), 0);
  v.push_back({"reconnect", Message{kUndefinedReaderId, Reconnect{"::1", "2002"}},
               reconnect_msg});
  static const std::vector<std::uint8_t> unknown_payload{0xDE, 0xAD};
  v.push_back({"unknown_type_42", Message{5, Unknown{42, unknown_payload}},
               {0, 0, 0, 42, 0, 0, 0, 5, 0, 0, 0, 2, 0xDE, 0xAD}});
  return v;
}

}  // namespace vscard::test
