// SPDX-License-Identifier: LGPL-2.1-or-later
// ViccSource: `vscclient --vicc` and `--vicc-connect`, cards from programs that
// speak vsmartcard's vpcd protocol (vicc, jcardsim, vpicc-rs...), with no pcscd.
// vscclient plays vpcd's part, the reader side (docs/vicc.md).
//
//   - listen mode (--vicc[=[ADDR:]PORT], default 127.0.0.1:35963, vpcd's port):
//     card programs connect to us, as they connect to vpcd by default;
//   - connect mode (--vicc-connect=HOST:PORT, repeatable): we dial a card
//     started in vicc's reversed mode (vicc -R), retrying with backoff while it
//     is not there and after it went away;
//   - a connection is a card: power on, get ATR, the ATR goes to the host; the
//     connection closing is the card removed; a new connection a new insertion.
//     Nothing is polled: the socket says when the card goes;
//   - readers: "vicc 0" always exists in listen mode (the reader a QEMU passthru
//     device gets); a card arriving while it is occupied gets a reader of its
//     own ("vicc 1", "vicc 2"... the lowest free number), removed when the card
//     goes; each connect target is a reader named "vicc HOST:PORT" that stays;
//   - APDUs go to the card unchanged, one at a time per card (later ones wait
//     in order); a card that answers nothing within `timeout` -- or breaks the
//     protocol (vicc_card.h) -- gets its outstanding APDUs answered with an
//     error, is dropped (card removed) and named in one log line;
//   - at most kMaxCards cards at once; more connections are closed at once.
// Everything runs on the main context: no worker thread (a socket does not block).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "card_source.h"
#include "main_context.h"
#include "vicc_card.h"
#include "vscard/address.h"
#include "vscard/connection.h"
#include "vscard/connector.h"
#include "vscard/listener.h"
#include "vscard/protocol.h"

namespace vscclient {

class ViccSource final : public CardSource {
 public:
  // The vpcd port (vsmartcard's reader.conf CHANNELID 0x8C7B).
  static constexpr std::uint16_t kDefaultPort = 35963;
  static constexpr std::size_t kMaxCards = 128;
  static constexpr std::chrono::seconds kDefaultTimeout{30};

  struct Options {
    std::optional<vscard::Address> listen;  // --vicc
    std::vector<vscard::Address> connect;   // --vicc-connect
    std::chrono::milliseconds timeout = kDefaultTimeout;  // --vicc-timeout
    // The longest response a card may announce (what a VSCard APDU message holds
    // at the default size limit); a longer length field drops the card at once.
    std::size_t max_response = vscard::kDefaultMaxMessageSize - vscard::kHeaderSize;
    // Backoff of connect mode (short: the card is a local program).
    vscard::Backoff backoff{std::chrono::milliseconds(250), std::chrono::milliseconds(5000), 2.0,
                            0.2};
  };

  explicit ViccSource(Options options);
  ~ViccSource() override;

  std::string_view kind() const override { return "vicc"; }
  bool start(GMainContext* context, CardSourceListener& listener, std::string* error) override;
  void transmit(SourceReaderId reader, std::vector<std::uint8_t> apdu, std::size_t max_response,
                ApduDone done) override;
  // Power off / power on / reset become vpcd control frames to the card
  // program, in order with the APDUs (vicc logs "Power Down", "Power Up",
  // "Reset"); the reader-session events have no vpcd frame and are not taken.
  bool card_control(SourceReaderId reader, vscard::CardControlEvent event,
                    ApduDone done) override;
  void stop() override;

  // The port listened on (the kernel's choice when --vicc asked for 0); 0 if none.
  std::uint16_t listen_port() const { return socket_listener_ ? socket_listener_->port() : 0; }

 private:
  struct Pending {
    std::vector<std::uint8_t> apdu;
    std::size_t max_response = 0;
    ApduDone done;
    std::optional<vscard::vpcd::Control> control;  // a power event instead of an APDU
  };
  struct Slot {
    ViccSource* owner = nullptr;  // for the timer callback
    SourceReaderId id = 0;
    std::string name;
    bool permanent = false;    // "vicc 0" and connect readers stay without a card
    int number = -1;           // listen slots: N of "vicc N"; -1 for connect readers
    std::unique_ptr<vscard::Connector> connector;  // connect mode
    bool waiting_logged = false;                   // connect mode: one line per outage
    std::unique_ptr<vscard::Connection> connection;
    std::unique_ptr<ViccCard> card;
    std::string peer;
    bool inserted = false;     // card_inserted was reported
    std::deque<Pending> pending;
    GSource* timer = nullptr;
  };

  void accepted(std::unique_ptr<vscard::Connection> connection);
  void attach(SourceReaderId id, std::unique_ptr<vscard::Connection> connection);
  void on_data(SourceReaderId id, vscard::Bytes data);
  void on_closed(SourceReaderId id, const vscard::CloseReason& reason);
  void on_timeout(SourceReaderId id);
  // Sends the next waiting APDU if the card is Ready, and writes what the card holds.
  void pump(SourceReaderId id);
  void write_output(Slot& slot);
  // Drops the card of slot `id`: outstanding APDUs fail with `reason`, the card
  // is reported removed, a temporary reader removed, a connect target redialled.
  void drop(SourceReaderId id, const std::string& log_line, bool warning);
  void arm_timer(Slot& slot);
  // Adds a slot under `id` (default: a new one); returns its id.
  SourceReaderId add_slot(Slot slot, std::optional<SourceReaderId> id = std::nullopt);
  static void cancel_timer(Slot& slot);
  std::size_t connected_cards() const;
  std::string timeout_text() const;

  Options options_;
  GMainContext* context_ = nullptr;
  CardSourceListener* listener_ = nullptr;
  std::unique_ptr<MainContextPoster> poster_;
  std::unique_ptr<vscard::Listener> socket_listener_;
  std::map<SourceReaderId, Slot> slots_;
  SourceReaderId next_id_ = 0;
};

// --vicc's argument: "PORT", "ADDR:PORT", "[V6]:PORT" or empty (the default
// 127.0.0.1:35963). nullopt with `error` set for anything else.
std::optional<vscard::Address> parse_vicc_listen(const std::string& text, std::string* error);
// --vicc-connect's argument: "HOST:PORT" or "[V6]:PORT".
std::optional<vscard::Address> parse_vicc_connect(const std::string& text, std::string* error);

}  // namespace vscclient
