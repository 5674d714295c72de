// SPDX-License-Identifier: LGPL-2.1-or-later
// HostSession: the card-using side of VSCard (what QEMU's ccid-card-passthru is),
// as a sans-I/O state machine. Same shape as ClientSession: receive() bytes,
// events through the handler, commands, pending_output()/consume_output().
//
// A HostPolicy chooses between reproducing QEMU 7.2 byte for byte (the default)
// and a multi-reader host with ISO 7816-3 ATR checks.
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

struct HostPolicy {
  enum class Mode {
    // What QEMU 7.2's ccid-card-passthru does (measured; session/qemu_policy.h): every
    // ReaderAdd gets Error(success) with reader id 0, QEMU's check_atr and
    // 40-byte cap, Error(general) for types it does not handle, Init answered
    // even when malformed, and nothing answered ever again once QEMU's 64 KiB
    // input buffer is full (QEMU stops reading; the session reports Closed).
    // receive() cuts its bytes into QEMU's chardev reads (at most 4096 bytes,
    // at most the buffer's free room): QEMU empties its buffer only when a
    // read ends on a message boundary. docs/protocol.md tables it.
    Qemu,
    // Up to max_readers readers with their own ids, ISO ATR checks, Error codes
    // for every violation, the Reconnect extension advertised.
    Multi,
  };
  Mode mode = Mode::Qemu;
  std::uint32_t max_readers = 1;  // Multi only
  std::size_t max_message_size = kDefaultMaxMessageSize;

  static HostPolicy qemu() { return {}; }
  static HostPolicy multi(std::uint32_t max_readers) {
    return {Mode::Multi, max_readers, kDefaultMaxMessageSize};
  }
};

// What send_card_control() did; every value but Sent is a refusal, and nothing
// was sent.
enum class CardControlResult {
  Sent,
  NotNegotiated,    // Qemu policy, or the client's Init lacked kCapabilityCardControl
  UnknownReader,
  UnknownEvent,     // a code outside CardControlEvent
  NoCard,           // power events need a card in the reader
  ApduOutstanding,  // power events wait for the APDU's answer (ordering)
  AtrOutstanding,   // the answer to an earlier PowerOn/WarmReset has not come
  NotPowered,       // WarmReset needs a powered card (ISO 7816-3 6.2.3)
  Closed,
};
std::string_view to_string(CardControlResult result);

namespace host_event {
// The client's Init (answered already). `magic_ok` false: QEMU answers anyway.
struct ClientInit {
  std::uint32_t version = 0;
  Capabilities capabilities{};
  bool magic_ok = true;
  bool version_mismatch = false;
};
struct ReaderAdded {
  ReaderId id = 0;
  std::string_view name;
};
// ReaderAdd refused (Multi: more than max_readers).
struct ReaderRefused {
  std::string_view name;
  std::uint32_t code = 0;
};
struct ReaderRemoved {
  ReaderId id = 0;
};
// An ATR arrived; `accepted` tells what the host answered.
struct CardInserted {
  ReaderId id = 0;
  Bytes atr;
  bool accepted = false;
};
struct CardRemoved {
  ReaderId id = 0;
};
// Extension: the ATR answering our send_card_control(PowerOn/WarmReset);
// `accepted` tells what the host answered (Multi: ISO 7816-3 parse_atr). A
// refused ATR leaves the card present but unpowered.
struct CardReset {
  ReaderId id = 0;
  Bytes atr;
  bool accepted = false;
};
// The client's answer to send_apdu().
struct ApduResponse {
  ReaderId id = 0;
  Bytes response;
};
// The client answered an APDU with Error instead of a response.
struct ApduError {
  ReaderId id = 0;
  std::uint32_t code = 0;
};
struct FlushCompleted {
  ReaderId id = 0;
};
// The client broke a rule; the session answered as the policy says and goes on.
struct ProtocolViolation {
  std::string_view what;
};
// The session is over (QEMU policy: where QEMU would stop reading for good;
// Multi: malformed Init; both: a message over the size limit). The program
// closes the connection after writing pending_output(); receive() ignores
// anything more.
struct Closed {
  std::string_view reason;
};
}  // namespace host_event

using HostEvent =
    std::variant<host_event::ClientInit, host_event::ReaderAdded, host_event::ReaderRefused,
                 host_event::ReaderRemoved, host_event::CardInserted, host_event::CardRemoved,
                 host_event::CardReset,
                 host_event::ApduResponse, host_event::ApduError, host_event::FlushCompleted,
                 host_event::ProtocolViolation, host_event::Closed>;

class HostSession {
 public:
  using EventHandler = std::function<void(const HostEvent&)>;

  HostSession(HostPolicy policy, EventHandler handler);
  ~HostSession();
  HostSession(HostSession&&) noexcept;
  HostSession& operator=(HostSession&&) noexcept;

  void receive(Bytes data);
  Bytes pending_output() const;
  void consume_output(std::size_t n);
  // Called each time the session queues output or closes (ClientSession's
  // set_output_notifier; SessionLink sets it).
  using OutputNotifier = std::function<void()>;
  void set_output_notifier(OutputNotifier notify);

  // Sends a command APDU to the card in `id`. False if there is no such reader,
  // no card, or an APDU to it is still outstanding (one at a time per reader).
  bool send_apdu(ReaderId id, Bytes apdu);
  // Sends Flush; FlushCompleted follows when the client has answered.
  bool flush(ReaderId id = 0);
  // Extension: only if the client's Init advertised kCapabilityReconnect
  // (never in Qemu mode). False otherwise, or if a field does not fit.
  bool request_reconnect(std::string_view host, std::string_view port);
  // Extension: sends CardControl(event) for reader `id`, only if the client's
  // Init advertised kCapabilityCardControl (never in Qemu mode). PowerOff
  // unpowers the card (send_apdu refuses until PowerOn); PowerOn/WarmReset
  // expect the client's ATR (CardReset), and send_apdu refuses until it came.
  CardControlResult send_card_control(ReaderId id, CardControlEvent event);

  struct ReaderInfo {
    ReaderId id = 0;
    std::string name;
    bool card_present = false;
    std::vector<std::uint8_t> atr;
    bool apdu_outstanding = false;
    bool powered = true;          // false after PowerOff (CardControl extension)
    bool atr_outstanding = false; // PowerOn/WarmReset sent, ATR not yet received
  };
  const std::vector<ReaderInfo>& readers() const;
  const ReaderInfo* reader(ReaderId id) const;

  bool client_init_received() const;
  const Capabilities& client_capabilities() const;
  bool closed() const;
  const HostPolicy& policy() const;

 private:
  // Its state and rules live in libvscard (src/session/); the header is the API.
  struct VSCARD_HIDDEN Impl;
  std::unique_ptr<Impl> impl_;
};

VSCARD_API_END
}  // namespace vscard
