// SPDX-License-Identifier: LGPL-2.1-or-later
#define G_LOG_DOMAIN "vschost"

#include "client_connection.h"

#include <glib.h>

#include <type_traits>

#include "vscard/overloaded.h"

namespace vschost {

using namespace vscard;

ClientConnection::ClientConnection(ClientId id, std::unique_ptr<Connection> connection,
                                   HostPolicy policy, const Script* script, Callbacks callbacks)
    : id_(id),
      connection_(std::move(connection)),
      session_(policy, [this](const HostEvent& e) { on_session_event(e); }),
      peer_(connection_->peer()),
      callbacks_(std::move(callbacks)) {
  if (script != nullptr) {
    runner_ = std::make_unique<ScriptRunner>(*script, *this, [this](const StepResult& r) {
      if (callbacks_.step) callbacks_.step(id_, r);
    });
  }
}

ClientConnection::~ClientConnection() {
  *alive_ = false;
  timer_.reset();
  link_.reset();
  if (connection_) connection_->close();
}

void ClientConnection::start() {
  // close_when_session_closes off: in QEMU mode a closed session keeps the
  // connection open and deaf, as QEMU does; otherwise close() ends it.
  link_.emplace(session_, *connection_,
                [this](const CloseReason& reason) { on_closed(closing_ ? *closing_ : reason.message); },
                vscard::SessionLink<HostSession>::Options{false});
  for (HostObserver* o : callbacks_.observers()) o->client_connected(id_, peer_, connection_->is_tls());
  if (runner_) {
    runner_->start(Clock::now());
    update_timer();
  }
}

// The one place vschost routes a session event. It runs inside
// HostSession::receive(), after the session has queued its own answer to the
// message (host_session_qemu.cc, host_session_multi.cc); observers and the
// script may give the session commands, which the link sends once receive()
// returns.
void ClientConnection::on_session_event(const HostEvent& event) {
  if (gone_) return;
  auto alive = alive_;
  const auto now = Clock::now();
  const auto& observers = callbacks_.observers();
  namespace he = host_event;
  const bool readers_changed = std::visit(
      vscard::Overloaded{
          [&](const he::ClientInit& e) {
            for (HostObserver* o : observers) o->client_init(id_, e);
            return false;
          },
          [&](const he::ReaderAdded& e) {
            for (HostObserver* o : observers) o->reader_added(ReaderRef{id_, e.id}, e.name);
            return true;
          },
          [&](const he::ReaderRefused& e) {
            for (HostObserver* o : observers) o->reader_refused(id_, e.name, e.code);
            return false;
          },
          [&](const he::ReaderRemoved& e) {
            finish_pending(e.id, std::nullopt, std::nullopt);
            for (HostObserver* o : observers) o->reader_removed(ReaderRef{id_, e.id});
            return true;
          },
          [&](const he::CardInserted& e) {
            for (HostObserver* o : observers) o->card_inserted(ReaderRef{id_, e.id}, e.atr, e.accepted);
            return true;
          },
          [&](const he::CardReset& e) {
            // The ATR answering a power-on/reset we sent (CardControl extension):
            // observers see it as VSCard's ATR means, "card insertion or reset".
            g_info("client %" G_GUINT64_FORMAT " (%s): reader %u answered power on/reset with an ATR (%s)",
                   id_, peer_.c_str(), e.id, e.accepted ? "accepted" : "refused");
            for (HostObserver* o : observers) o->card_inserted(ReaderRef{id_, e.id}, e.atr, e.accepted);
            return true;
          },
          [&](const he::CardRemoved& e) {
            finish_pending(e.id, std::nullopt, std::nullopt);
            for (HostObserver* o : observers) o->card_removed(ReaderRef{id_, e.id});
            return true;
          },
          [&](const he::ApduResponse& e) {
            finish_pending(e.id, std::vector<std::uint8_t>(e.response.begin(), e.response.end()),
                           std::nullopt);
            return true;  // the reader can take the next APDU
          },
          [&](const he::ApduError& e) {
            finish_pending(e.id, std::nullopt, e.code);
            return true;
          },
          [&](const he::FlushCompleted& e) {
            if (runner_) runner_->flush_completed(now, e.id);
            return false;
          },
          [&](const he::ProtocolViolation& e) {
            const std::string what(e.what);
            g_debug("client %" G_GUINT64_FORMAT " (%s): %s", id_, peer_.c_str(), what.c_str());
            for (HostObserver* o : observers) o->protocol_violation(id_, e.what);
            return false;
          },
          [&](const he::Closed& e) {
            const std::string reason(e.reason);
            if (session_.policy().mode == HostPolicy::Mode::Qemu) {
              // QEMU 7.2 stops reading a client past 64 KiB of unparsed input but
              // keeps the connection (measured; ccid-card-passthru.c can_read): we
              // answer nothing more either, and drain input until the peer leaves.
              g_message("client %" G_GUINT64_FORMAT " (%s): %s; answering nothing more, as QEMU",
                        id_, peer_.c_str(), reason.c_str());
            } else {
              close(reason);
            }
            return false;
          },
      },
      event);
  if (!*alive) return;
  if (readers_changed && runner_) runner_->readers_changed(now);
  if (!*alive) return;
  update_timer();
  script_step_done();
}

void ClientConnection::finish_pending(ReaderId reader,
                                      std::optional<std::vector<std::uint8_t>> response,
                                      std::optional<std::uint32_t> error) {
  auto it = pending_.find(reader);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - p.sent);
  if (response || error) {
    static const std::vector<std::uint8_t> kNone;
    for (HostObserver* o : callbacks_.observers()) {
      o->apdu_exchanged(ReaderRef{id_, reader}, p.command, response ? *response : kNone, error,
                        elapsed);
    }
  }
  if (p.done) p.done(std::move(response), error);
}

bool ClientConnection::transmit(ReaderId reader, std::span<const std::uint8_t> apdu,
                                ResponseHandler done) {
  if (gone_ || session_.closed() || !session_.send_apdu(reader, apdu)) return false;
  pending_[reader] = Pending{std::vector<std::uint8_t>(apdu.begin(), apdu.end()),
                             std::chrono::steady_clock::now(), std::move(done)};
  return true;
}

bool ClientConnection::send_apdu(ReaderId reader, std::span<const std::uint8_t> apdu) {
  auto alive = alive_;
  return transmit(reader, apdu,
                  [this, alive, reader](std::optional<std::vector<std::uint8_t>> response,
                                        std::optional<std::uint32_t> error) {
                    if (!*alive || !runner_) return;
                    if (response) runner_->apdu_response(Clock::now(), reader, *response);
                    else if (error) runner_->apdu_error(Clock::now(), reader, *error);
                  });
}

bool ClientConnection::flush(ReaderId reader) {
  return !gone_ && session_.flush(reader);
}

CardControlResult ClientConnection::card_control(ReaderId reader, CardControlEvent event) {
  if (gone_) return CardControlResult::Closed;
  const CardControlResult result = session_.send_card_control(reader, event);
  const std::string what(to_string(event));
  if (result == CardControlResult::Sent) {
    g_info("client %" G_GUINT64_FORMAT " (%s): reader %u: sent %s", id_, peer_.c_str(), reader,
           what.c_str());
  } else {
    const std::string why(to_string(result));
    g_debug("client %" G_GUINT64_FORMAT " (%s): reader %u: %s not sent: %s", id_, peer_.c_str(),
            reader, what.c_str(), why.c_str());
  }
  return result;
}

bool ClientConnection::request_reconnect(std::string_view host, std::string_view port) {
  return !gone_ && session_.request_reconnect(host, port);
}

void ClientConnection::update_timer() {
  timer_.reset();
  if (!runner_ || gone_) return;
  auto deadline = runner_->deadline();
  if (!deadline) return;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
  GSource* source = g_timeout_source_new(static_cast<guint>(ms < 0 ? 0 : ms));
  // `this` is safe as data: timer_ owns the source and destroys it with us.
  g_source_set_callback(
      source,
      [](gpointer data) -> gboolean {
        auto* self = static_cast<ClientConnection*>(data);
        self->timer_fired();
        return G_SOURCE_REMOVE;
      },
      this, nullptr);
  g_source_attach(source, g_main_context_get_thread_default());
  timer_.reset(source);
}

void ClientConnection::timer_fired() {
  // Destroying the source being dispatched is allowed (GLib holds a reference
  // during dispatch); update_timer() makes the next one.
  timer_.reset();
  if (runner_ == nullptr || gone_) return;
  runner_->timer(Clock::now());
  update_timer();
  script_step_done();
}

void ClientConnection::script_step_done() {
  if (runner_ && runner_->finished() && !script_reported_) {
    script_reported_ = true;
    if (callbacks_.script_done) callbacks_.script_done(id_);
  }
}

void ClientConnection::on_closed(const std::string& reason) {
  if (gone_) return;
  gone_ = true;
  timer_.reset();
  close_timer_.reset();
  auto alive = alive_;
  std::vector<ReaderId> readers;
  for (const auto& [reader, p] : pending_) readers.push_back(reader);
  for (ReaderId r : readers) finish_pending(r, std::nullopt, std::nullopt);
  if (!*alive) return;
  if (runner_) runner_->disconnected(Clock::now(), reason);
  script_step_done();
  if (!*alive) return;
  for (HostObserver* o : callbacks_.observers()) o->client_disconnected(id_, reason);
  if (callbacks_.gone) callbacks_.gone(id_, reason);
}

void ClientConnection::close(const std::string& reason) {
  if (gone_ || closing_) return;
  if (!link_) {
    connection_->close_after_flush();
    return on_closed(reason);
  }
  // Gone when the link reports the close, i.e. once the queued bytes are out:
  // reporting it at once let `--once` exit with the last bytes still queued
  // (issue 18, test_vschost_once). A client that does not read them is let go
  // after the grace time.
  closing_ = reason;
  link_->close_after_flush();
  if (gone_) return;
  close_timer_.reset(g_timeout_source_new_seconds(kCloseGraceSeconds));
  g_source_set_callback(
      close_timer_.get(),
      [](gpointer data) -> gboolean {
        auto* self = static_cast<ClientConnection*>(data);
        GSource* source = self->close_timer_.release();
        self->on_closed(*self->closing_);
        g_source_unref(source);
        return G_SOURCE_REMOVE;
      },
      this, nullptr);
  g_source_attach(close_timer_.get(), g_main_context_get_thread_default());
}

}  // namespace vschost
