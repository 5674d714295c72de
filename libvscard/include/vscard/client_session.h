// SPDX-License-Identifier: LGPL-2.1-or-later
// ClientSession: the card-owning side of VSCard, as a sans-I/O state machine.
//
// No sockets, no threads, no clocks. The program feeds received bytes to
// receive(), gets events through the handler given at construction (called
// synchronously from receive() and from the command methods), calls commands,
// and writes pending_output() to the transport, then consume_output(n).
//
//   ClientSession session(options, [&](const ClientEvent& e) { ... });
//   auto reader = session.add_reader("Virtual Reader");
//   Bytes out = session.pending_output();  // or let a SessionLink write it
//   transport.write(out); session.consume_output(out.size());
//
// Views inside an event (APDU bytes, names) are valid only during the handler call.
// The handler may call any command method of the session it is called from.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "vscard/message.h"
#include "vscard/export.h"

namespace vscard {
VSCARD_API_BEGIN

// A reader as the client knows it; stays valid for the session's lifetime and
// across restart(). The host's ReaderId for it is assigned later.
using ReaderHandle = std::uint32_t;

namespace client_event {
// The host's Init arrived. A version other than ours is only a warning (libcacard).
struct HostInit {
  std::uint32_t version = 0;
  Capabilities capabilities{};
  bool version_mismatch = false;
};
// The host answered ReaderAdd with Error(success); `id` came in its header.
struct ReaderAccepted {
  ReaderHandle reader = 0;
  ReaderId id = 0;
};
// The host refused ReaderAdd (e.g. cannot add more readers), or assigned an id
// already used by another reader of this session (QEMU gives every reader id 0:
// one reader per connection; `code` is then 0 and nothing is sent, since a
// ReaderRemove would detach the first reader). The session keeps running with
// its other readers.
struct ReaderRejected {
  ReaderHandle reader = 0;
  std::uint32_t code = 0;
  std::string_view reason;
};
// The host answered an ATR with an error code (QEMU: Error(general) for an ATR
// its check_atr refuses).
struct AtrRejected {
  ReaderHandle reader = 0;
  std::uint32_t code = 0;
};
// A command APDU for one of our readers. Answer with send_apdu_response() or
// send_error(); until then the reader has an outstanding APDU.
struct ApduReceived {
  ReaderHandle reader = 0;
  Bytes apdu;
};
// Extension: the host asks us to move to host:port (only if both Inits carry
// kCapabilityReconnect).
struct ReconnectRequested {
  std::string_view host;
  std::string_view port;
};
// Extension: a power or reader-session event for the card in `reader` (only
// if both Inits carry kCapabilityCardControl and the client's Options asked for
// it). PowerOn and WarmReset are answered with send_reset_atr() (the card's new
// ATR) or, if the card does not come up, remove_card(). docs/protocol.md has
// the rules the session already applied (unknown reader, no card, APDU owed).
struct CardControlReceived {
  ReaderHandle reader = 0;
  CardControlEvent event = CardControlEvent::PowerOff;
};
// An Error from the host that answers nothing we sent, or answers a
// CardRemove/ReaderRemove with a failure code.
struct HostError {
  ReaderId id = 0;
  std::uint32_t code = 0;
};
// The host broke a rule; the session answered as documented (docs/protocol.md)
// and goes on. For the program's log.
struct ProtocolViolation {
  std::string_view what;
};
// The session cannot go on (wrong magic in the host's Init, undecodable stream).
// pending_output() may still hold bytes; the program should close the connection.
struct Closed {
  std::string_view reason;
};
}  // namespace client_event

using ClientEvent =
    std::variant<client_event::HostInit, client_event::ReaderAccepted,
                 client_event::ReaderRejected, client_event::AtrRejected,
                 client_event::ApduReceived, client_event::ReconnectRequested,
                 client_event::CardControlReceived,
                 client_event::HostError, client_event::ProtocolViolation,
                 client_event::Closed>;

class ClientSession {
 public:
  struct Options {
    // Capability word 0 of our Init; the Reconnect extension is on by default
    // (QEMU ignores capability bits it does not know). kCapabilityCardControl
    // is off unless the owner can act on power events (it must then answer
    // PowerOn/WarmReset with send_reset_atr()).
    std::uint32_t capabilities = kCapabilityReconnect;
    std::size_t max_message_size = kDefaultMaxMessageSize;
  };
  using EventHandler = std::function<void(const ClientEvent&)>;

  ClientSession(Options options, EventHandler handler);
  ~ClientSession();
  ClientSession(ClientSession&&) noexcept;
  ClientSession& operator=(ClientSession&&) noexcept;

  // --- input ---
  // Decodes `data` (any split) and reports what it means through the handler.
  void receive(Bytes data);

  // --- output ---
  Bytes pending_output() const;
  void consume_output(std::size_t n);
  // Called, from inside the command or receive() that caused it, each time the
  // session queues output or closes. SessionLink sets it so that nothing the
  // session queues waits for the program (session_link.h); a program that
  // drives the session by hand may leave it empty and take pending_output().
  using OutputNotifier = std::function<void()>;
  void set_output_notifier(OutputNotifier notify);

  // --- commands ---
  // Adds a reader. ReaderAdd goes out once the host's Init has arrived and no
  // other ReaderAdd is outstanding (one at a time, in order).
  ReaderHandle add_reader(std::string name);
  // Sends ATR for `reader` (or sends it as soon as the reader is accepted).
  // False if the reader was rejected/removed or the ATR does not fit a message.
  bool insert_card(ReaderHandle reader, Bytes atr);
  // Sends CardRemove. An outstanding APDU on the reader stays owed: answer it
  // (typically with send_error) so a pending Flush can complete.
  bool remove_card(ReaderHandle reader);
  // Sends ReaderRemove (after CardRemove if a card is in).
  bool remove_reader(ReaderHandle reader);
  // Answers the outstanding APDU of `reader`. False if none is outstanding.
  bool send_apdu_response(ReaderHandle reader, Bytes response);
  bool send_error(ReaderHandle reader, ErrorCode code);
  // Answers a CardControlReceived PowerOn/WarmReset with the card's ATR after
  // the reset (the ATR message, "card insertion or reset"). The host answers it
  // with an Error as any ATR. False if no reset answer is owed on the reader or
  // the ATR does not fit a message.
  bool send_reset_atr(ReaderHandle reader, Bytes atr);

  // Starts over on a new connection: discards pending output and any partial
  // input, queues Init, and re-announces every reader not removed (and its
  // card) once the new host's Init has arrived. Outstanding APDUs are dropped.
  void restart();

  // --- state ---
  bool host_init_received() const;
  bool closed() const;
  const Capabilities& host_capabilities() const;
  std::uint32_t host_version() const;
  // True when both Inits advertise the capability bit (word 0).
  bool negotiated(std::uint32_t capability) const;

  enum class ReaderState { Waiting, Adding, Active, Rejected, Removed };
  struct ReaderInfo {
    std::string name;
    ReaderState state = ReaderState::Waiting;
    ReaderId id = kUndefinedReaderId;
    bool card_present = false;
    std::vector<std::uint8_t> atr;
    std::uint32_t outstanding_apdus = 0;
  };
  const ReaderInfo* reader(ReaderHandle handle) const;
  std::size_t reader_count() const;

 private:
  // Its state and rules live in libvscard (src/session/); the header is the API.
  struct VSCARD_HIDDEN Impl;
  std::unique_ptr<Impl> impl_;
};

VSCARD_API_END
}  // namespace vscard
