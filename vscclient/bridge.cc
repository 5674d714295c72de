// SPDX-License-Identifier: LGPL-2.1-or-later
// Card sources <-> ClientSession (see bridge.h).
#include "bridge.h"

#include <glib.h>

#include <algorithm>
#include <utility>

#include "vscard/apdu.h"

namespace vscclient {

Bridge::Bridge(vscard::ClientSession& session, Options options)
    : session_(session), options_(options) {}

std::optional<vscard::ReaderHandle> Bridge::handle_of(CardSource& source,
                                                      SourceReaderId id) const {
  for (const auto& [handle, route] : routes_) {
    if (route.source == &source && route.id == id) return handle;
  }
  return std::nullopt;
}

void Bridge::reader_added(CardSource& source, SourceReaderId id, std::string name) {
  g_message("reader added: %s (%.*s)", name.c_str(), static_cast<int>(source.kind().size()),
            source.kind().data());
  vscard::ReaderHandle handle = session_.add_reader(std::move(name));
  routes_[handle] = Route{&source, id};
}

void Bridge::reader_removed(CardSource& source, SourceReaderId id) {
  auto handle = handle_of(source, id);
  if (!handle) return;
  g_message("reader removed: %s", session_.reader(*handle)->name.c_str());
  session_.remove_reader(*handle);
  routes_.erase(*handle);
  presenters_.erase(*handle);
}

void Bridge::card_inserted(CardSource& source, SourceReaderId id, std::vector<std::uint8_t> atr) {
  auto handle = handle_of(source, id);
  if (!handle) return;
  const std::string& name = session_.reader(*handle)->name;
  g_message("card inserted in %s, ATR %s", name.c_str(), vscard::to_hex(atr).c_str());
  guards_.erase(*handle);  // a new card: its own PIN counters
  const std::vector<std::uint8_t> announced = present(*handle, atr);
  if (!session_.insert_card(*handle, announced)) {
    g_warning("cannot announce the card in %s (reader refused by the host, or ATR too long)",
              name.c_str());
  }
}

std::vector<std::uint8_t> Bridge::present(vscard::ReaderHandle handle,
                                          std::span<const std::uint8_t> atr) {
  presenters_.erase(handle);
  const auto& present = options_.present;
  if (present.t0 == vscard::T0Translation::Off && !present.shape_responses) {
    return {atr.begin(), atr.end()};
  }
  const auto& presenter = presenters_.try_emplace(handle, atr, present).first->second;
  const auto announced = presenter.presented_atr();
  if (presenter.translating()) {
    g_message("presenting the card in %s as a T=0 card (--t0=off to disable): ATR %s",
              session_.reader(handle)->name.c_str(), vscard::to_hex(announced).c_str());
  }
  return {announced.begin(), announced.end()};
}

void Bridge::on_card_control(vscard::ReaderHandle handle, vscard::CardControlEvent event) {
  const auto* info = session_.reader(handle);
  if (info == nullptr) return;
  const std::string what(vscard::to_string(event));
  // --trace shows it among the APDUs; -v shows it anyway.
  if (options_.trace) {
    g_message("CardControl > %s: %s", info->name.c_str(), what.c_str());
  } else {
    g_info("host: %s for the card in %s", what.c_str(), info->name.c_str());
  }
  auto route = routes_.find(handle);
  const std::uint64_t generation = generation_;
  if (route != routes_.end() &&
      route->second.source->card_control(
          route->second.id, event, [this, handle, event, generation](ApduResult result) {
            // An answer for an earlier connection: the session owes it no more.
            if (generation == generation_) card_controlled(handle, event, std::move(result));
          })) {
    return;
  }
  const std::string_view kind = route != routes_.end() ? route->second.source->kind() : "";
  g_info("%s: %s left to the %.*s card source, which does not act on it%s", info->name.c_str(),
         what.c_str(), static_cast<int>(kind.size()), kind.data(),
         kind == "pcsc" ? " (--pcsc-reset makes it reset the card)" : "");
  // The host waits for an ATR after a power on or reset: the card's, unchanged.
  if (vscard::card_control_wants_atr(event) && info->card_present) {
    session_.send_reset_atr(handle, info->atr);
  }
}

void Bridge::card_controlled(vscard::ReaderHandle handle, vscard::CardControlEvent event,
                             ApduResult result) {
  const auto* info = session_.reader(handle);
  if (info == nullptr || !info->card_present) return;
  const std::string what(vscard::to_string(event));
  if (!result.ok) {
    g_warning("%s: %s failed: %s", info->name.c_str(), what.c_str(), result.error.c_str());
    if (vscard::card_control_wants_atr(event)) {
      // docs/protocol.md: a card that does not come up is removed.
      presenters_.erase(handle);
      session_.remove_card(handle);
    }
    return;
  }
  if (!vscard::card_control_wants_atr(event)) return;
  g_info("%s: %s done, ATR %s", info->name.c_str(), what.c_str(),
         vscard::to_hex(result.response).c_str());
  const std::vector<std::uint8_t> announced = present(handle, result.response);
  if (!session_.send_reset_atr(handle, announced)) {
    g_warning("%s: cannot answer the host's %s with the ATR (no longer owed, or too long)",
              info->name.c_str(), what.c_str());
  }
}

void Bridge::card_removed(CardSource& source, SourceReaderId id) {
  auto handle = handle_of(source, id);
  if (!handle) return;
  g_message("card removed from %s", session_.reader(*handle)->name.c_str());
  presenters_.erase(*handle);
  session_.remove_card(*handle);
}

void Bridge::source_failed(CardSource& source, std::string reason) {
  g_warning("%.*s card source failed: %s", static_cast<int>(source.kind().size()),
            source.kind().data(), reason.c_str());
  for (auto it = routes_.begin(); it != routes_.end();) {
    if (it->second.source == &source) {
      session_.remove_reader(it->first);
      presenters_.erase(it->first);
      it = routes_.erase(it);
    } else {
      ++it;
    }
  }
}

void Bridge::on_apdu(vscard::ReaderHandle handle, vscard::Bytes apdu) {
  auto route = routes_.find(handle);
  if (route == routes_.end()) {
    session_.send_error(handle, vscard::ErrorCode::General);
    return;
  }
  const std::string& name = session_.reader(handle)->name;
  if (options_.trace) {
    g_message("APDU > %s: %s", name.c_str(),
              vscard::format_command_for_log(apdu, options_.trace_unredacted).c_str());
  }
  if (options_.pin_guard) {
    auto guard = guards_.try_emplace(handle, *options_.pin_guard).first;
    if (auto local = guard->second.on_command(apdu)) {
      g_warning("PIN guard: refused a VERIFY for PIN reference %02X of %s without passing it "
                "to the card (type allow-pin to let the next one through)",
                apdu[3], name.c_str());
      session_.send_apdu_response(handle, *local);
      return;
    }
  }
  auto presenter = presenters_.find(handle);
  if (presenter == presenters_.end()) {
    transmit(handle, apdu);
  } else if (auto command = follow(handle, presenter->second.on_command(apdu), apdu)) {
    transmit(handle, *command);
  }
}

std::optional<std::vector<std::uint8_t>> Bridge::follow(vscard::ReaderHandle handle,
                                                        vscard::T0Presenter::Step step,
                                                        std::span<const std::uint8_t> host_command) {
  if (auto* reply = std::get_if<vscard::T0Presenter::ToGuest>(&step)) {
    answer(handle, reply->response);
    return std::nullopt;
  }
  auto& command = std::get<vscard::T0Presenter::ToCard>(step).command;
  if (options_.trace && !std::ranges::equal(command, host_command)) {
    g_message("  card > %s: %s", session_.reader(handle)->name.c_str(),
              vscard::format_command_for_log(command, options_.trace_unredacted).c_str());
  }
  return std::move(command);
}

void Bridge::transmit(vscard::ReaderHandle handle, std::span<const std::uint8_t> command) {
  // The presenter's next command for the card (a GET RESPONSE chain, bounded
  // by T0Presenter): `command` views it from the second round on.
  std::vector<std::uint8_t> next;
  for (;;) {
    auto route = routes_.find(handle);
    if (route == routes_.end()) {  // the reader went away between two card transmits
      session_.send_error(handle, vscard::ErrorCode::General);
      return;
    }
    CardSource& source = *route->second.source;
    const std::size_t max_response = options_.max_message_size - vscard::kHeaderSize;
    // The fast path: a card that answers without blocking (libcacard from
    // memory) answers here, in the dispatch that read the command, and the
    // answer is written before it returns: no job, no callback, no thread.
    ApduNow now = source.transmit_now(route->second.id, command, max_response);
    if (now.kind == ApduNow::Kind::Queued) {
      const std::uint64_t generation = generation_;
      source.transmit(route->second.id, std::vector<std::uint8_t>(command.begin(), command.end()),
                      max_response, [this, handle, generation](ApduResult result) {
                        // An answer to an APDU of a previous connection has nobody to go to.
                        if (generation != generation_) return;
                        if (auto more = card_answered(handle, result.ok, result.response, result.error))
                          transmit(handle, *more);
                      });
      return;
    }
    // `now.response` is lent by the source (ApduNow): card_answered() has
    // sent it to the host or the presenter has taken what it needs before the
    // next round's transmit_now() writes over it.
    auto more = card_answered(handle, now.kind == ApduNow::Kind::Answered, now.response, now.error);
    if (!more) return;
    next = std::move(*more);
    command = next;
  }
}

std::optional<std::vector<std::uint8_t>> Bridge::card_answered(vscard::ReaderHandle handle, bool ok,
                                                               std::span<const std::uint8_t> response,
                                                               std::string_view error) {
  const vscard::ClientSession::ReaderInfo* info = session_.reader(handle);
  if (info == nullptr) return std::nullopt;
  auto presenter = presenters_.find(handle);
  if (!ok) {
    if (presenter != presenters_.end()) presenter->second.on_card_failed();
    g_warning("APDU for %s failed: %.*s", info->name.c_str(), static_cast<int>(error.size()),
              error.data());
    session_.send_error(handle, vscard::ErrorCode::General);
    return std::nullopt;
  }
  if (presenter == presenters_.end()) {
    answer(handle, response);
    return std::nullopt;
  }
  auto step = presenter->second.on_card_response(response);
  auto* reply = std::get_if<vscard::T0Presenter::ToGuest>(&step);
  if (options_.trace && (reply == nullptr || !std::ranges::equal(reply->response, response))) {
    g_message("  card < %s: %s", info->name.c_str(), vscard::to_hex(response).c_str());
  }
  return follow(handle, std::move(step), {});
}

void Bridge::answer(vscard::ReaderHandle handle, std::span<const std::uint8_t> response) {
  const vscard::ClientSession::ReaderInfo* info = session_.reader(handle);
  if (info == nullptr) return;
  if (auto guard = guards_.find(handle); guard != guards_.end()) {
    log_pin_notice(info->name, guard->second.on_response(response));
  }
  if (options_.trace) {
    g_message("APDU < %s: %s", info->name.c_str(), vscard::to_hex(response).c_str());
  }
  session_.send_apdu_response(handle, response);
}

std::vector<Bridge::ReaderView> Bridge::readers() const {
  std::vector<ReaderView> out;
  for (const auto& [handle, route] : routes_) {
    out.push_back(ReaderView{handle, route.source, route.id, session_.reader(handle)});
  }
  return out;
}

std::optional<Bridge::ReaderView> Bridge::find_by_host_id(vscard::ReaderId id) const {
  for (const ReaderView& view : readers()) {
    if (view.info != nullptr && view.info->state == vscard::ClientSession::ReaderState::Active &&
        view.info->id == id) {
      return view;
    }
  }
  return std::nullopt;
}

void Bridge::remove_all() {
  for (const auto& [handle, route] : routes_) {
    const auto* info = session_.reader(handle);
    if (info == nullptr || info->state != vscard::ClientSession::ReaderState::Active) continue;
    // libcacard's vscclient: "be nice and signal card removal first".
    if (info->card_present) session_.remove_card(handle);
    session_.remove_reader(handle);
  }
}

std::size_t Bridge::allow_pin() {
  std::size_t released = 0;
  for (auto& [handle, guard] : guards_) {
    for (std::uint8_t reference : guard.allow()) {
      const auto* info = session_.reader(handle);
      g_message("PIN guard: the next VERIFY for PIN reference %02X of %s goes to the card",
                reference, info != nullptr ? info->name.c_str() : "?");
      ++released;
    }
  }
  return released;
}

void Bridge::log_pin_notice(const std::string& reader,
                            const std::optional<PinGuard::Notice>& notice) {
  if (!notice) return;
  if (notice->kind == PinGuard::Notice::Kind::Released) {
    g_message("PIN guard: PIN reference %02X of %s is usable again", notice->reference,
              reader.c_str());
  } else if (notice->tries_left) {
    g_warning("PIN guard: the card in %s has %u tries left for PIN reference %02X; further "
              "VERIFY commands from the host are refused until you type allow-pin",
              reader.c_str(), *notice->tries_left, notice->reference);
  } else {
    g_warning("PIN guard: PIN reference %02X of %s is blocked; further VERIFY commands from "
              "the host are refused until you type allow-pin", notice->reference, reader.c_str());
  }
}

}  // namespace vscclient
