#define G_LOG_DOMAIN "vschost"

#include "client_connection.h"

#include <glib.h>

#include <type_traits>

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
  if (connection_) connection_->close();
}

void ClientConnection::start() {
  auto alive = alive_;
  connection_->start(
      [this, alive](Bytes data) {
        if (*alive) on_data(data);
      },
      [this, alive](const CloseReason& reason) {
        if (*alive) on_closed(reason.message);
      });
  for (HostObserver* o : callbacks_.observers()) o->client_connected(id_, peer_, connection_->is_tls());
  if (runner_) {
    runner_->start(Clock::now());
    update_timer();
  }
}

void ClientConnection::on_session_event(const HostEvent& event) {
  // Copy: the views in `event` die when the handler returns.
  Event e{};
  std::visit(
      [&](const auto& ev) {
        using T = std::decay_t<decltype(ev)>;
        namespace he = host_event;
        if constexpr (std::is_same_v<T, he::ClientInit>) {
          e.kind = Event::Kind::Init;
          e.init = ev;
        } else if constexpr (std::is_same_v<T, he::ReaderAdded>) {
          e.kind = Event::Kind::ReaderAdded;
          e.reader = ev.id;
          e.text = ev.name;
        } else if constexpr (std::is_same_v<T, he::ReaderRefused>) {
          e.kind = Event::Kind::ReaderRefused;
          e.text = ev.name;
          e.code = ev.code;
        } else if constexpr (std::is_same_v<T, he::ReaderRemoved>) {
          e.kind = Event::Kind::ReaderRemoved;
          e.reader = ev.id;
        } else if constexpr (std::is_same_v<T, he::CardInserted>) {
          e.kind = Event::Kind::CardInserted;
          e.reader = ev.id;
          e.bytes.assign(ev.atr.begin(), ev.atr.end());
          e.flag = ev.accepted;
        } else if constexpr (std::is_same_v<T, he::CardRemoved>) {
          e.kind = Event::Kind::CardRemoved;
          e.reader = ev.id;
        } else if constexpr (std::is_same_v<T, he::ApduResponse>) {
          e.kind = Event::Kind::Response;
          e.reader = ev.id;
          e.bytes.assign(ev.response.begin(), ev.response.end());
        } else if constexpr (std::is_same_v<T, he::ApduError>) {
          e.kind = Event::Kind::ApduError;
          e.reader = ev.id;
          e.code = ev.code;
        } else if constexpr (std::is_same_v<T, he::FlushCompleted>) {
          e.kind = Event::Kind::FlushCompleted;
          e.reader = ev.id;
        } else if constexpr (std::is_same_v<T, he::ProtocolViolation>) {
          e.kind = Event::Kind::Violation;
          e.text = ev.what;
        } else if constexpr (std::is_same_v<T, he::Closed>) {
          e.kind = Event::Kind::Closed;
          e.text = ev.reason;
        }
      },
      event);
  events_.push_back(std::move(e));
}

void ClientConnection::on_data(Bytes data) {
  if (input_dead_ || gone_) return;  // read and discard: bounded memory, peer close still seen
  auto alive = alive_;
  session_.receive(data);
  write_output();
  if (*alive) process_events();
}

void ClientConnection::write_output() {
  Bytes out = session_.pending_output();
  if (!out.empty()) {
    std::size_t n = out.size();
    connection_->write(out);
    session_.consume_output(n);
  }
}

void ClientConnection::process_events() {
  auto alive = alive_;
  const auto now = Clock::now();
  while (!events_.empty() && *alive) {
    Event e = std::move(events_.front());
    events_.pop_front();
    const auto& observers = callbacks_.observers();
    ReaderRef ref{id_, e.reader};
    bool readers_changed = false;
    switch (e.kind) {
      case Event::Kind::Init:
        for (HostObserver* o : observers) o->client_init(id_, e.init);
        break;
      case Event::Kind::ReaderAdded:
        for (HostObserver* o : observers) o->reader_added(ref, e.text);
        readers_changed = true;
        break;
      case Event::Kind::ReaderRefused:
        for (HostObserver* o : observers) o->reader_refused(id_, e.text, e.code);
        break;
      case Event::Kind::ReaderRemoved:
        finish_pending(e.reader, std::nullopt, std::nullopt);
        for (HostObserver* o : observers) o->reader_removed(ref);
        readers_changed = true;
        break;
      case Event::Kind::CardInserted:
        for (HostObserver* o : observers) o->card_inserted(ref, e.bytes, e.flag);
        readers_changed = true;
        break;
      case Event::Kind::CardRemoved:
        finish_pending(e.reader, std::nullopt, std::nullopt);
        for (HostObserver* o : observers) o->card_removed(ref);
        readers_changed = true;
        break;
      case Event::Kind::Response:
        finish_pending(e.reader, std::move(e.bytes), std::nullopt);
        readers_changed = true;  // the reader can take the next APDU
        break;
      case Event::Kind::ApduError:
        finish_pending(e.reader, std::nullopt, e.code);
        readers_changed = true;
        break;
      case Event::Kind::FlushCompleted:
        if (runner_) runner_->flush_completed(now, e.reader);
        break;
      case Event::Kind::Violation:
        g_debug("client %" G_GUINT64_FORMAT " (%s): %s", id_, peer_.c_str(), e.text.c_str());
        for (HostObserver* o : observers) o->protocol_violation(id_, e.text);
        break;
      case Event::Kind::Closed:
        if (session_.policy().mode == HostPolicy::Mode::Qemu) {
          // QEMU 7.2 stops reading a client past 64 KiB of unparsed input but
          // keeps the connection (measured; ccid-card-passthru.c can_read): we
          // answer nothing more either, and drain input until the peer leaves.
          g_message("client %" G_GUINT64_FORMAT " (%s): %s; answering nothing more, as QEMU",
                    id_, peer_.c_str(), e.text.c_str());
          input_dead_ = true;
        } else {
          close(e.text);
        }
        break;
    }
    if (readers_changed && runner_ && *alive) runner_->readers_changed(now);
  }
  if (*alive) {
    write_output();
    update_timer();
    script_step_done();
  }
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
  if (gone_ || input_dead_ || !session_.send_apdu(reader, apdu)) return false;
  pending_[reader] = Pending{std::vector<std::uint8_t>(apdu.begin(), apdu.end()),
                             std::chrono::steady_clock::now(), std::move(done)};
  write_output();
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
  if (gone_ || !session_.flush(reader)) return false;
  write_output();
  return true;
}

bool ClientConnection::request_reconnect(std::string_view host, std::string_view port) {
  if (gone_ || !session_.request_reconnect(host, port)) return false;
  write_output();
  return true;
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
  if (gone_) return;
  write_output();
  connection_->close_after_flush();
  on_closed(reason);
}

}  // namespace vschost
