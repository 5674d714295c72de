// SPDX-License-Identifier: LGPL-2.1-or-later
// Helpers shared by the session tests: hand-written wire bytes, draining a
// session's output, and events turned into one line of text each (events hold
// views that expire after the handler call, so tests keep text copies).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "vscard/apdu.h"
#include "vscard/client_session.h"
#include "vscard/host_session.h"

namespace vscard::test {

using ByteVec = std::vector<std::uint8_t>;

inline void put_be32(ByteVec& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

// One message as raw bytes: header (type, reader_id, length) then payload.
inline ByteVec wire(std::uint32_t type, std::uint32_t reader_id, const ByteVec& payload = {}) {
  ByteVec out;
  put_be32(out, type);
  put_be32(out, reader_id);
  put_be32(out, static_cast<std::uint32_t>(payload.size()));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

inline ByteVec words(std::initializer_list<std::uint32_t> values) {
  ByteVec out;
  for (std::uint32_t v : values) put_be32(out, v);
  return out;
}

inline ByteVec text_bytes(std::string_view s) { return ByteVec(s.begin(), s.end()); }

inline ByteVec init_payload(std::uint32_t version = 2, std::uint32_t caps = 0) {
  ByteVec p = text_bytes("VSCD");
  put_be32(p, version);
  put_be32(p, caps);
  return p;
}

inline ByteVec error_msg(std::uint32_t reader_id, std::uint32_t code) {
  return wire(2, reader_id, words({code}));
}

inline ByteVec cat(std::initializer_list<ByteVec> parts) {
  ByteVec out;
  for (const ByteVec& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// QEMU 7.2's reply to every Init, as measured: [1 0xFFFFFFFF 12: VSCD 2 0].
inline ByteVec qemu_init_reply() { return wire(1, 0xFFFFFFFFu, init_payload(2, 0)); }

template <class Session>
ByteVec take_output(Session& s) {
  Bytes out = s.pending_output();
  ByteVec copy(out.begin(), out.end());
  s.consume_output(copy.size());
  return copy;
}

inline std::string hex(Bytes b) { return to_hex(b); }

inline std::string describe(const ClientEvent& event) {
  using namespace client_event;
  struct V {
    std::string operator()(const HostInit& e) {
      return "HostInit version=" + std::to_string(e.version) +
             " caps=" + std::to_string(e.capabilities.words[0]) +
             " mismatch=" + std::to_string(e.version_mismatch);
    }
    std::string operator()(const ReaderAccepted& e) {
      return "ReaderAccepted reader=" + std::to_string(e.reader) + " id=" + std::to_string(e.id);
    }
    std::string operator()(const ReaderRejected& e) {
      return "ReaderRejected reader=" + std::to_string(e.reader) +
             " code=" + std::to_string(e.code) + " reason=" + std::string(e.reason);
    }
    std::string operator()(const AtrRejected& e) {
      return "AtrRejected reader=" + std::to_string(e.reader) + " code=" + std::to_string(e.code);
    }
    std::string operator()(const ApduReceived& e) {
      return "ApduReceived reader=" + std::to_string(e.reader) + " apdu=" + hex(e.apdu);
    }
    std::string operator()(const ReconnectRequested& e) {
      return "ReconnectRequested " + std::string(e.host) + ":" + std::string(e.port);
    }
    std::string operator()(const CardControlReceived& e) {
      return "CardControlReceived reader=" + std::to_string(e.reader) + " event=" +
             std::string(to_string(e.event));
    }
    std::string operator()(const HostError& e) {
      return "HostError id=" + std::to_string(e.id) + " code=" + std::to_string(e.code);
    }
    std::string operator()(const ProtocolViolation& e) {
      return "ProtocolViolation " + std::string(e.what);
    }
    std::string operator()(const Closed& e) { return "Closed " + std::string(e.reason); }
  };
  return std::visit(V{}, event);
}

inline std::string describe(const HostEvent& event) {
  using namespace host_event;
  struct V {
    std::string operator()(const ClientInit& e) {
      return "ClientInit version=" + std::to_string(e.version) +
             " caps=" + std::to_string(e.capabilities.words[0]) +
             " magic_ok=" + std::to_string(e.magic_ok) +
             " mismatch=" + std::to_string(e.version_mismatch);
    }
    std::string operator()(const ReaderAdded& e) {
      return "ReaderAdded id=" + std::to_string(e.id) + " name=" + std::string(e.name);
    }
    std::string operator()(const ReaderRefused& e) {
      return "ReaderRefused name=" + std::string(e.name) + " code=" + std::to_string(e.code);
    }
    std::string operator()(const ReaderRemoved& e) {
      return "ReaderRemoved id=" + std::to_string(e.id);
    }
    std::string operator()(const CardInserted& e) {
      return "CardInserted id=" + std::to_string(e.id) + " atr=" + hex(e.atr) +
             " accepted=" + std::to_string(e.accepted);
    }
    std::string operator()(const CardRemoved& e) { return "CardRemoved id=" + std::to_string(e.id); }
    std::string operator()(const CardReset& e) {
      return "CardReset id=" + std::to_string(e.id) + " atr=" + hex(e.atr) +
             " accepted=" + std::to_string(e.accepted);
    }
    std::string operator()(const ApduResponse& e) {
      return "ApduResponse id=" + std::to_string(e.id) + " response=" + hex(e.response);
    }
    std::string operator()(const ApduError& e) {
      return "ApduError id=" + std::to_string(e.id) + " code=" + std::to_string(e.code);
    }
    std::string operator()(const FlushCompleted& e) {
      return "FlushCompleted id=" + std::to_string(e.id);
    }
    std::string operator()(const ProtocolViolation& e) {
      return "ProtocolViolation " + std::string(e.what);
    }
    std::string operator()(const Closed& e) { return "Closed " + std::string(e.reason); }
  };
  return std::visit(V{}, event);
}

// Events as text, in order; `kind()` keeps only the first word of each.
struct EventLog {
  std::vector<std::string> lines;
  void clear() { lines.clear(); }
  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    for (const auto& l : lines) out.push_back(l.substr(0, l.find(' ')));
    return out;
  }
  bool has_kind(std::string_view kind) const {
    for (const auto& l : lines) {
      if (l.substr(0, l.find(' ')) == kind) return true;
    }
    return false;
  }
};

// A ClientSession whose events are kept as text in `log`; `on_event`, if set,
// sees each event too (to answer from inside the handler).
class LoggedClient {
 public:
  explicit LoggedClient(std::uint32_t capabilities = ClientSession::Options{}.capabilities)
      : session(ClientSession::Options{capabilities, kDefaultMaxMessageSize},
                [this](const ClientEvent& e) {
                  log.lines.push_back(describe(e));
                  if (on_event) on_event(e);
                }) {}
  ClientSession session;
  EventLog log;
  std::function<void(const ClientEvent&)> on_event;
};

// Pumps bytes both ways until both sessions are quiet.
inline void pump(ClientSession& client, HostSession& host) {
  for (int i = 0; i < 100; ++i) {
    const ByteVec to_host = take_output(client);
    const ByteVec to_client = take_output(host);
    if (to_host.empty() && to_client.empty()) return;
    host.receive(to_host);
    client.receive(to_client);
  }
  FAIL() << "sessions did not settle";
}

}  // namespace vscard::test
