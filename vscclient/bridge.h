// SPDX-License-Identifier: LGPL-2.1-or-later
// Bridge: card sources on one side, a ClientSession on the other.
//
// Readers and cards reported by any CardSource become ReaderAdd/ATR/CardRemove/
// ReaderRemove through the session; APDUs the host sends are routed to the
// source owning the reader, answered at once when the source can without blocking
// (CardSource::transmit_now) or else on its worker, and the response sent back.
// The session outlives connections: after ClientSession::restart() it
// re-announces every reader and card itself, and the bridge drops answers to
// APDUs asked on an earlier connection (a generation counter).
//
// Between the host and each card sits a vscard::T0Presenter (unless both its
// parts are off): the host sees the ATR it presents and the responses it
// shapes, and one command from the host can take several card transmits
// (docs/t0-presentation.md).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "card_source.h"
#include "pin_guard.h"
#include "vscard/client_session.h"
#include "vscard/t0_presenter.h"

namespace vscclient {

class Bridge final : public CardSourceListener {
 public:
  struct Options {
    std::size_t max_message_size = vscard::kDefaultMaxMessageSize;
    bool trace = false;             // log every APDU
    bool trace_unredacted = false;  // ... with PINs
    std::optional<unsigned> pin_guard;  // --pin-guard[=N]: PinGuard threshold
    vscard::PresenterOptions present;   // --t0, --no-shaping, --raw
  };
  // What the bridge asks of the session reaches the host by the SessionLink's
  // own means (vscard/session_link.h): the bridge never flushes.
  Bridge(vscard::ClientSession& session, Options options);

  // The host's command APDU for `handle` (ClientEvent ApduReceived): to the
  // card (through the PIN guard and the presenter) and its answer back.
  void on_apdu(vscard::ReaderHandle handle, vscard::Bytes apdu);
  // A power or reader-session event from the host (ClientEvent
  // CardControlReceived, docs/protocol.md): logged (-v, --trace) and handed to
  // the card's source (CardSource::card_control); a power on / reset is
  // answered with the card's new ATR, or with its current one when the source
  // leaves the card alone (--pcsc without --pcsc-reset, session events).
  void on_card_control(vscard::ReaderHandle handle, vscard::CardControlEvent event);
  // The connection changed: call after session.restart().
  void restarted() { ++generation_; }

  // CardSourceListener.
  void reader_added(CardSource& source, SourceReaderId reader, std::string name) override;
  void reader_removed(CardSource& source, SourceReaderId reader) override;
  void card_inserted(CardSource& source, SourceReaderId reader,
                     std::vector<std::uint8_t> atr) override;
  void card_removed(CardSource& source, SourceReaderId reader) override;
  void source_failed(CardSource& source, std::string reason) override;

  // For the stdin commands, which name readers by the host's reader id.
  struct ReaderView {
    vscard::ReaderHandle handle = 0;
    CardSource* source = nullptr;
    SourceReaderId source_id = 0;
    const vscard::ClientSession::ReaderInfo* info = nullptr;
  };
  std::vector<ReaderView> readers() const;
  std::optional<ReaderView> find_by_host_id(vscard::ReaderId id) const;
  // Announces CardRemove then ReaderRemove for every reader (stdin `exit`).
  void remove_all();

  // stdin `allow-pin`: every PIN the guard holds back may be tried once more.
  // Returns how many (reader, reference) pairs were released.
  std::size_t allow_pin();

 private:
  struct Route {
    CardSource* source = nullptr;
    SourceReaderId id = 0;
  };
  std::optional<vscard::ReaderHandle> handle_of(CardSource& source, SourceReaderId id) const;
  // Does what the presenter asks: answers the host here, or returns the
  // command for the card (the caller transmits it).
  std::optional<std::vector<std::uint8_t>> follow(vscard::ReaderHandle handle, vscard::T0Presenter::Step step,
                                                  std::span<const std::uint8_t> host_command);
  // To the card: answered at once when the source can (CardSource::transmit_now),
  // else through its worker; then the presenter's further commands, if any,
  // in a loop (each lent answer is used up before the next transmit_now).
  void transmit(vscard::ReaderHandle handle, std::span<const std::uint8_t> command);
  // The card's answer (or failure) to the command transmit() sent: sent on to
  // the host (or an Error), or the presenter's next command for the card.
  // `response` is not kept.
  std::optional<std::vector<std::uint8_t>> card_answered(vscard::ReaderHandle handle, bool ok,
                                                         std::span<const std::uint8_t> response,
                                                         std::string_view error);
  // A new presenter for the card's `atr` (none with --raw); the ATR the host sees.
  std::vector<std::uint8_t> present(vscard::ReaderHandle handle, std::span<const std::uint8_t> atr);
  void card_controlled(vscard::ReaderHandle handle, vscard::CardControlEvent event,
                       ApduResult result);
  void answer(vscard::ReaderHandle handle, std::span<const std::uint8_t> response);
  static void log_pin_notice(const std::string& reader, const std::optional<PinGuard::Notice>& notice);

  vscard::ClientSession& session_;
  Options options_;
  std::uint64_t generation_ = 0;
  std::map<vscard::ReaderHandle, Route> routes_;
  // One PinGuard per card (a new card starts afresh), with --pin-guard only.
  std::map<vscard::ReaderHandle, PinGuard> guards_;
  // One presenter per card; none with --raw (byte-for-byte passthrough).
  std::map<vscard::ReaderHandle, vscard::T0Presenter> presenters_;
};

}  // namespace vscclient
