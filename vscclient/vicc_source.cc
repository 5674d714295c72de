// SPDX-License-Identifier: LGPL-2.1-or-later
// ViccSource (see vicc_source.h).
#include "vicc_source.h"

#include <glib.h>

#include <cstdio>
#include <utility>

#include "vscard/glib_ptr.h"

namespace vscclient {
namespace {

bool all_digits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

std::optional<vscard::Address> parse_vicc_listen(const std::string& text, std::string* error) {
  // A bare port listens on loopback, as vpcd's card programs connect to
  // localhost by default; an address must be asked for.
  std::string full = text.empty()      ? "127.0.0.1:" + std::to_string(ViccSource::kDefaultPort)
                     : all_digits(text) ? "127.0.0.1:" + text
                                        : text;
  GError* raw = nullptr;
  auto address = vscard::Address::parse(full, &raw);
  if (!address) {
    vscard::GErrorPtr e(raw);
    *error = "--vicc takes [ADDR:]PORT (IPv6 in brackets: [::1]:35963): " +
             std::string(e->message);
    return std::nullopt;
  }
  if (address->is_unix()) {
    *error = "--vicc takes [ADDR:]PORT with a TCP port (0 for any free one), not '" + text + "'";
    return std::nullopt;
  }
  return address;
}

std::optional<vscard::Address> parse_vicc_connect(const std::string& text, std::string* error) {
  GError* raw = nullptr;
  auto address = vscard::Address::parse(text, &raw);
  if (!address) {
    vscard::GErrorPtr e(raw);
    *error = "--vicc-connect takes HOST:PORT (IPv6 in brackets): " + std::string(e->message);
    return std::nullopt;
  }
  if (address->is_unix() || address->port == 0 || address->host.empty()) {
    *error = "--vicc-connect takes HOST:PORT with a host and a TCP port, not '" + text + "'";
    return std::nullopt;
  }
  return address;
}

ViccSource::ViccSource(Options options) : options_(std::move(options)) {}

ViccSource::~ViccSource() { stop(); }

bool ViccSource::start(GMainContext* context, CardSourceListener& listener, std::string* error) {
  context_ = context;
  listener_ = &listener;
  poster_ = std::make_unique<MainContextPoster>(context);
  if (options_.listen) {
    GError* raw = nullptr;
    // Built in one expression: GCC 12 with -fsanitize=address warns
    // (maybe-uninitialized) about the empty optional `tls` of a default-
    // constructed Options that is then changed member by member.
    const vscard::Listener::Options o = [] {
      vscard::Listener::Options options;
      options.connection.read_buffer_size = 16 * 1024;
      // Room in the kernel's accept queue for a burst of cards (a test
      // harness starting many simulators at once).
      options.backlog = static_cast<int>(kMaxCards);
      return options;
    }();
    socket_listener_ = vscard::Listener::create(
        *options_.listen, o,
        [this](std::unique_ptr<vscard::Connection> c) { accepted(std::move(c)); },
        [](const std::string& peer, const GError* e) {
          g_warning("vicc: could not take a card connection from %s: %s", peer.c_str(),
                    e->message);
        },
        &raw);
    if (!socket_listener_) {
      vscard::GErrorPtr e(raw);
      std::string why = std::string("--vicc: ") + e->message;
      if (g_error_matches(e.get(), G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)) {
        why += " -- is pcscd with vsmartcard's vpcd driver running? Pick another port with "
               "--vicc=PORT and start the card with it (vicc -P PORT)";
      }
      *error = why;
      return false;
    }
    Slot slot;
    slot.name = "vicc 0";
    slot.permanent = true;
    slot.number = 0;
    add_slot(std::move(slot));
    // With port 0 the kernel chose: this line is where the user learns which.
    vscard::Address bound = *options_.listen;
    bound.port = socket_listener_->port();
    g_message("vicc: waiting for cards on %s (vicc -H %s -P %u)", bound.to_string().c_str(),
              bound.host.empty() ? "localhost" : bound.host.c_str(), bound.port);
  }
  for (const vscard::Address& address : options_.connect) {
    SourceReaderId id = next_id_++;
    Slot slot;
    slot.name = "vicc " + address.to_string();
    slot.permanent = true;
    vscard::Connector::Options o;
    o.address = address;
    o.backoff = options_.backoff;
    o.max_attempts = 0;
    o.timeout = std::chrono::seconds(5);
    o.stable_after = std::chrono::seconds(2);
    o.connection.read_buffer_size = 16 * 1024;
    slot.connector = std::make_unique<vscard::Connector>(
        o, [this, id](std::unique_ptr<vscard::Connection> c) { attach(id, std::move(c)); },
        [this, id](const GError* e, std::optional<std::chrono::milliseconds> retry) {
          auto it = slots_.find(id);
          if (it == slots_.end() || !retry) return;
          if (!it->second.waiting_logged) {
            g_message("%s: waiting for the card (vicc -R): %s; retrying", it->second.name.c_str(),
                      e->message);
            it->second.waiting_logged = true;
          } else {
            g_debug("%s: %s; next attempt in %lld ms", it->second.name.c_str(), e->message,
                    static_cast<long long>(retry->count()));
          }
        });
    add_slot(std::move(slot), id);
  }
  // Readers that exist without a card: announced from the main loop, never
  // inside start() (card_source.h).
  for (auto& [id, slot] : slots_) {
    poster_->post([this, id = id, name = slot.name] {
      if (listener_) listener_->reader_added(*this, id, name);
    });
    if (slot.connector) slot.connector->start();
  }
  return true;
}

void ViccSource::stop() {
  for (auto& [id, slot] : slots_) {
    cancel_timer(slot);
    slot.connector.reset();
    slot.connection.reset();
  }
  slots_.clear();
  socket_listener_.reset();
  poster_.reset();
  listener_ = nullptr;
}

SourceReaderId ViccSource::add_slot(Slot slot, std::optional<SourceReaderId> id) {
  SourceReaderId key = id ? *id : next_id_++;
  Slot& added = slots_.emplace(key, std::move(slot)).first->second;
  added.owner = this;
  added.id = key;
  return key;
}

std::size_t ViccSource::connected_cards() const {
  std::size_t n = 0;
  for (const auto& [id, slot] : slots_)
    if (slot.connection) ++n;
  return n;
}

std::string ViccSource::timeout_text() const {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s (--vicc-timeout)", options_.timeout.count() / 1000.0);
  return text;
}

void ViccSource::accepted(std::unique_ptr<vscard::Connection> connection) {
  if (connected_cards() >= kMaxCards) {
    g_warning("vicc: refusing the card from %s: %zu cards are connected, the most vscclient "
              "takes", connection->peer().c_str(), kMaxCards);
    return;  // destroying the connection closes it
  }
  // "vicc 0" first, then the lowest free number: the names say which card is which.
  std::optional<SourceReaderId> free_slot;
  std::vector<bool> used;
  for (auto& [id, slot] : slots_) {
    if (slot.number < 0) continue;
    if (used.size() <= static_cast<std::size_t>(slot.number)) used.resize(slot.number + 1);
    used[slot.number] = true;
    if (!slot.connection && !free_slot) free_slot = id;
  }
  if (!free_slot) {
    int number = 0;
    while (static_cast<std::size_t>(number) < used.size() && used[number]) ++number;
    Slot slot;
    slot.number = number;
    slot.name = "vicc " + std::to_string(number);
    SourceReaderId id = add_slot(std::move(slot));
    listener_->reader_added(*this, id, slots_.at(id).name);
    free_slot = id;
  }
  attach(*free_slot, std::move(connection));
}

void ViccSource::attach(SourceReaderId id, std::unique_ptr<vscard::Connection> connection) {
  auto it = slots_.find(id);
  if (it == slots_.end()) return;
  Slot& slot = it->second;
  slot.waiting_logged = false;
  slot.peer = connection->peer();
  slot.connection = std::move(connection);
  slot.card = std::make_unique<ViccCard>(options_.max_response);
  slot.inserted = false;
  g_message("%s: card program connected from %s; powering it up", slot.name.c_str(),
            slot.peer.c_str());
  slot.connection->start([this, id](vscard::Bytes data) { on_data(id, data); },
                         [this, id](const vscard::CloseReason& why) { on_closed(id, why); });
  slot.card->start();
  arm_timer(slot);
  pump(id);
}

void ViccSource::on_data(SourceReaderId id, vscard::Bytes data) {
  auto it = slots_.find(id);
  if (it == slots_.end() || !it->second.card) return;
  for (ViccCard::Event& event : it->second.card->receive(data)) {
    // Listener calls and ApduDone may reach back into us: look the slot up again.
    it = slots_.find(id);
    if (it == slots_.end() || !it->second.card) return;
    Slot& slot = it->second;
    switch (event.kind) {
      case ViccCard::Event::Kind::Inserted:
        cancel_timer(slot);
        slot.inserted = true;
        listener_->card_inserted(*this, id, std::move(event.bytes));
        break;
      case ViccCard::Event::Kind::Reset: {
        cancel_timer(slot);
        if (slot.pending.empty()) break;  // cannot happen: Resetting means one is pending
        Pending done = std::move(slot.pending.front());
        slot.pending.pop_front();
        done.done(ApduResult{true, std::move(event.bytes), {}});
        break;
      }
      case ViccCard::Event::Kind::Response: {
        cancel_timer(slot);
        if (slot.pending.empty()) break;  // cannot happen: Busy means one is pending
        Pending done = std::move(slot.pending.front());
        slot.pending.pop_front();
        ApduResult result;
        if (event.bytes.size() > done.max_response) {
          result.error = "the card answered " + std::to_string(event.bytes.size()) +
                         " bytes, more than the host takes (" +
                         std::to_string(done.max_response) + ")";
        } else {
          result.ok = true;
          result.response = std::move(event.bytes);
        }
        done.done(std::move(result));
        break;
      }
      case ViccCard::Event::Kind::Failed:
        drop(id, slot.name + ": the card from " + slot.peer + " " + event.reason +
                     "; dropping it (card removed)",
             true);
        return;
    }
  }
  pump(id);
}

void ViccSource::on_closed(SourceReaderId id, const vscard::CloseReason& reason) {
  auto it = slots_.find(id);
  if (it == slots_.end() || !it->second.card) return;
  Slot& slot = it->second;
  bool clean = reason.kind == vscard::CloseReason::Kind::PeerClosed &&
               slot.card->closed_reason() == "closed the connection" && slot.pending.empty();
  std::string what = reason.kind == vscard::CloseReason::Kind::PeerClosed
                         ? slot.card->closed_reason()
                         : "went away (" + reason.message + ")";
  drop(id, slot.name + ": the card from " + slot.peer + " " + what + " (card removed)", !clean);
}

void ViccSource::on_timeout(SourceReaderId id) {
  auto it = slots_.find(id);
  if (it == slots_.end() || !it->second.card) return;
  Slot& slot = it->second;
  cancel_timer(slot);  // it is being dispatched: destroying it here is allowed
  std::string reason = slot.card->timed_out(timeout_text());
  drop(id, slot.name + ": the card from " + slot.peer + " " + reason + "; dropping it (card removed)",
       true);
}

void ViccSource::pump(SourceReaderId id) {
  for (;;) {
    auto it = slots_.find(id);
    if (it == slots_.end() || !it->second.card) return;
    Slot& slot = it->second;
    if (slot.card->state() == ViccCard::State::Ready && !slot.pending.empty() &&
        slot.pending.front().control) {
      const vscard::vpcd::Control control = *slot.pending.front().control;
      std::string error;
      const bool sent = slot.card->power(control, &error);
      g_info("%s: %s -> the card from %s", slot.name.c_str(),
             std::string(vscard::vpcd::to_string(control)).c_str(), slot.peer.c_str());
      if (sent && control != vscard::vpcd::Control::PowerOff) {
        arm_timer(slot);  // the ATR comes as a Reset event
      } else {
        // Power off has no answer (vpcd's sendToVICC alone): done once queued.
        Pending finished = std::move(slot.pending.front());
        slot.pending.pop_front();
        write_output(slot);
        finished.done(ApduResult{sent, {}, error});
        continue;  // ApduDone may have reached back into us: look the slot up again
      }
    } else if (slot.card->state() == ViccCard::State::Ready && !slot.pending.empty()) {
      std::string error;
      if (slot.card->send_command(slot.pending.front().apdu, &error)) {
        arm_timer(slot);
      } else {
        // Not framable (empty, 1 byte): the host gets an error, the card stays.
        Pending refused = std::move(slot.pending.front());
        slot.pending.pop_front();
        refused.done(ApduResult{false, {}, error});
        continue;  // ApduDone may have reached back into us: look the slot up again
      }
    }
    write_output(slot);
    return;
  }
}

void ViccSource::write_output(Slot& slot) {
  vscard::Bytes out = slot.card->pending_output();
  if (out.empty()) return;
  // A card that does not read its input cannot make us buffer without bound:
  // the connection's write queue limit closes it (on_closed follows).
  slot.connection->write(out);
  slot.card->consume_output(out.size());
}

void ViccSource::drop(SourceReaderId id, const std::string& log_line, bool warning) {
  auto it = slots_.find(id);
  if (it == slots_.end()) return;
  Slot& slot = it->second;
  if (warning) {
    g_warning("%s", log_line.c_str());
  } else {
    g_message("%s", log_line.c_str());
  }
  cancel_timer(slot);
  slot.connection.reset();
  slot.card.reset();
  std::deque<Pending> pending = std::move(slot.pending);
  slot.pending.clear();
  bool inserted = std::exchange(slot.inserted, false);
  for (Pending& p : pending) {
    p.done(ApduResult{false, {}, "the card in " + slot.name + " went away"});
  }
  it = slots_.find(id);
  if (it == slots_.end()) return;
  if (inserted && listener_) listener_->card_removed(*this, id);
  it = slots_.find(id);
  if (it == slots_.end()) return;
  if (it->second.connector) {
    it->second.connector->reconnect();
  } else if (!it->second.permanent) {
    slots_.erase(it);
    if (listener_) listener_->reader_removed(*this, id);
  }
}

void ViccSource::transmit(SourceReaderId reader, std::vector<std::uint8_t> apdu,
                          std::size_t max_response, ApduDone done) {
  auto it = slots_.find(reader);
  if (it == slots_.end() || !it->second.card || !it->second.inserted) {
    std::string name = it == slots_.end() ? "this reader" : it->second.name;
    poster_->post([done = std::move(done), name] {
      done(ApduResult{false, {}, "no card in " + name});
    });
    return;
  }
  it->second.pending.push_back(Pending{std::move(apdu), max_response, std::move(done), {}});
  // Sent from the main loop, so that an error for an unframable APDU is never
  // reported inside this call.
  poster_->post([this, reader] { pump(reader); });
}

bool ViccSource::card_control(SourceReaderId reader, vscard::CardControlEvent event,
                              ApduDone done) {
  using vscard::CardControlEvent;
  using vscard::vpcd::Control;
  if (event != CardControlEvent::PowerOff && !vscard::card_control_wants_atr(event)) return false;
  const Control control = event == CardControlEvent::PowerOff  ? Control::PowerOff
                          : event == CardControlEvent::PowerOn ? Control::PowerOn
                                                               : Control::Reset;
  auto it = slots_.find(reader);
  if (it == slots_.end() || !it->second.card || !it->second.inserted) {
    std::string name = it == slots_.end() ? "this reader" : it->second.name;
    poster_->post([done = std::move(done), name] {
      done(ApduResult{false, {}, "no card in " + name});
    });
    return true;
  }
  it->second.pending.push_back(Pending{{}, 0, std::move(done), control});
  poster_->post([this, reader] { pump(reader); });
  return true;
}

void ViccSource::arm_timer(Slot& slot) {
  cancel_timer(slot);
  slot.timer = g_timeout_source_new(static_cast<guint>(options_.timeout.count()));
  // The slot (a std::map node, so its address is stable) outlives its timer:
  // every path that drops a slot cancels the timer first.
  g_source_set_callback(
      slot.timer,
      [](gpointer data) -> gboolean {
        auto* target = static_cast<Slot*>(data);
        target->owner->on_timeout(target->id);
        return G_SOURCE_REMOVE;
      },
      &slot, nullptr);
  g_source_attach(slot.timer, context_);
}

void ViccSource::cancel_timer(Slot& slot) {
  if (slot.timer == nullptr) return;
  g_source_destroy(slot.timer);
  g_source_unref(slot.timer);
  slot.timer = nullptr;
}

}  // namespace vscclient
