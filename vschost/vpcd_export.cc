// SPDX-License-Identifier: LGPL-2.1-or-later
#define G_LOG_DOMAIN "vschost"

#include "vpcd_export.h"

#include <glib.h>

#include <span>
#include <utility>

#include "host_server.h"
#include "vpcd_export_slot.h"
#include "vscard/apdu.h"
#include "vscard/decimal.h"
#include "vscard/glib_ptr.h"

#ifdef VSCHOST_HAVE_PCSC
#include "reader_use_watch.h"
#endif

namespace vschost {

namespace {

// While vpcd is not listening (pcscd stopped), Linux can hand our connect the
// port we dial as its own ephemeral port: a TCP self-connection that "succeeds"
// and would hold vpcd's port when pcscd comes back. Such a connection is dropped.
bool is_self_connection(GSocket* socket) {
  if (socket == nullptr) return false;
  vscard::GObjectPtr<GSocketAddress> local(g_socket_get_local_address(socket, nullptr));
  vscard::GObjectPtr<GSocketAddress> remote(g_socket_get_remote_address(socket, nullptr));
  if (!local || !remote || !G_IS_INET_SOCKET_ADDRESS(local.get()) ||
      !G_IS_INET_SOCKET_ADDRESS(remote.get()))
    return false;
  auto* l = G_INET_SOCKET_ADDRESS(local.get());
  auto* r = G_INET_SOCKET_ADDRESS(remote.get());
  return g_inet_socket_address_get_port(l) == g_inet_socket_address_get_port(r) &&
         g_inet_address_equal(g_inet_socket_address_get_address(l),
                              g_inet_socket_address_get_address(r));
}

}  // namespace

struct VpcdExport::Slot {
  unsigned index = 0;
  vscard::Address address;
  std::optional<ReaderRef> reader;
  std::string reader_name;
  vpcd::ExportSlot state;
  std::unique_ptr<vscard::Connector> connector;
  std::unique_ptr<vscard::Connection> connection;
  bool lost = false;           // the last connection ended: back off before the next
  bool failing = false;        // a failure streak was logged
  std::uint64_t polls_logged = 0;
};

std::optional<VpcdExport::Options> VpcdExport::parse(std::string_view address, unsigned slots,
                                                     std::string& error) {
  Options options;
  vscard::GErrorPtr gerror;
  auto parsed =
      vscard::Address::parse(address.empty() ? kDefaultVpcdAddress : address, gerror.out());
  if (!parsed) {
    error = std::string("--export-pcsc: ") + gerror.message();
    return std::nullopt;
  }
  if (parsed->is_unix() || parsed->port == 0 || parsed->host.empty()) {
    error = "--export-pcsc: expected HOST:PORT of vpcd (default " +
            std::string(kDefaultVpcdAddress) + "), got '" + std::string(address) + "'";
    return std::nullopt;
  }
  if (slots < 1 || parsed->port + slots - 1 > 0xFFFF) {
    error = "--export-slots: expected 1 or more slots whose ports (PORT + slot) stay below 65536";
    return std::nullopt;
  }
  options.address = *parsed;
  options.slots = slots;
  return options;
}

VpcdExport::VpcdExport(HostServer& server, Options options)
    : server_(server), options_(std::move(options)) {
  for (unsigned i = 0; i < options_.slots; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->index = i;
    slot->address = options_.address;
    slot->address.port = static_cast<std::uint16_t>(options_.address.port + i);
    Slot* raw = slot.get();
    vscard::Connector::Options co;
    co.address = slot->address;
    co.backoff = options_.backoff;
    co.timeout = std::chrono::seconds(5);
    co.stable_after = std::chrono::seconds(5);
    // The connector lives in the slot, so its handlers never outlive `raw`.
    slot->connector = std::make_unique<vscard::Connector>(
        co, [this, raw](std::unique_ptr<vscard::Connection> c) { on_connected(*raw, std::move(c)); },
        [this, raw](const GError* e, std::optional<std::chrono::milliseconds> retry) {
          on_connect_failed(*raw, e, retry);
        });
    slots_.push_back(std::move(slot));
  }
  server_.add_observer(this);
#ifdef VSCHOST_HAVE_PCSC
  // vpcd's readers are "Virtual PCD 00 0N" in pcscd (Debian's reader.conf.d/vpcd
  // FRIENDLYNAME, then pcscd's " 00 0N"), N being the slot. Only this
  // machine's pcscd can be watched: a vpcd elsewhere is not.
  const std::string& host = options_.address.host;
  const bool local_vpcd = !options_.address.is_unix() &&
                          (host == "127.0.0.1" || host == "::1" || host == "localhost");
  if (local_vpcd) {
    GMainContext* main_context = g_main_context_get_thread_default()
                                     ? g_main_context_get_thread_default()
                                     : g_main_context_default();
    use_watch_ = std::make_shared<ReaderUseWatch>(
        main_context, "Virtual PCD", [this](const std::string& reader, ReaderUseWatch::Use use) {
          reader_use_changed(reader, static_cast<int>(use));
        });
  }
#endif
  g_message("export: cards go to vpcd at %s (%u slot%s, ports %u-%u)",
            options_.address.to_string().c_str(), options_.slots, options_.slots == 1 ? "" : "s",
            static_cast<unsigned>(options_.address.port),
            static_cast<unsigned>(options_.address.port + options_.slots - 1));
}

VpcdExport::~VpcdExport() {
  *alive_ = false;
  use_watch_.reset();  // joins its thread; no handler runs afterwards
  server_.remove_observer(this);
  for (auto& slot : slots_) {
    slot->connector->stop();
    slot->connection.reset();
  }
}

VpcdExport::Slot* VpcdExport::find(ReaderRef reader) {
  for (auto& slot : slots_) {
    if (slot->reader == reader) return slot.get();
  }
  return nullptr;
}

VpcdExport::Slot* VpcdExport::assign(ReaderRef reader, std::string_view name) {
  if (Slot* slot = find(reader)) return slot;
  for (auto& slot : slots_) {
    if (slot->reader) continue;
    slot->reader = reader;
    slot->reader_name = name.empty() ? "reader " + std::to_string(reader.reader) : std::string(name);
    g_message("export: client %" G_GUINT64_FORMAT " '%s' -> vpcd slot %u (%s)", reader.client,
              slot->reader_name.c_str(), slot->index, slot->address.to_string().c_str());
    return slot.get();
  }
  g_message("export: client %" G_GUINT64_FORMAT " '%s' is not exported: all %u vpcd slots are "
            "taken (--export-slots)", reader.client, std::string(name).c_str(), options_.slots);
  return nullptr;
}

void VpcdExport::release(Slot& slot) {
  slot.state.remove_card();
  sync(slot);
  slot.reader.reset();
  slot.reader_name.clear();
}

void VpcdExport::reader_added(ReaderRef reader, std::string_view name) { assign(reader, name); }

void VpcdExport::reader_removed(ReaderRef reader) {
  if (Slot* slot = find(reader)) release(*slot);
}

void VpcdExport::client_disconnected(ClientId client, std::string_view) {
  for (auto& slot : slots_) {
    if (slot->reader && slot->reader->client == client) release(*slot);
  }
}

void VpcdExport::card_inserted(ReaderRef reader, std::span<const std::uint8_t> atr,
                               bool accepted) {
  Slot* slot = assign(reader, {});
  if (slot == nullptr) return;
  if (!accepted) {
    // The host answered the ATR with an Error: for it there is no card, so
    // there is none for pcscd either.
    slot->state.remove_card();
  } else {
    slot->state.insert_card(atr);
  }
  sync(*slot);
}

void VpcdExport::card_removed(ReaderRef reader) {
  if (Slot* slot = find(reader)) {
    slot->state.remove_card();
    sync(*slot);
  }
}

void VpcdExport::sync(Slot& slot) {
  // Each pass handles what the previous one changed; a few passes settle it.
  for (int pass = 0; pass < 4; ++pass) {
    if (slot.connection && slot.state.close_requested()) {
      g_message("export: vpcd slot %u: disconnecting: %s", slot.index,
                slot.state.close_reason().c_str());
      slot.connection.reset();  // vpcd sees the card removed
      slot.state.disconnected();
      slot.lost = true;
      continue;
    }
    if (slot.connection) {
      // vpcd may send the next APDU before the client's card has answered a
      // forwarded power-on/reset with its ATR; the session refuses APDUs until
      // then, so the command waits here (card_inserted brings us back).
      const auto* info = slot.reader ? server_.reader_info(*slot.reader) : nullptr;
      const bool resetting = info != nullptr && info->atr_outstanding;
      const auto out = slot.state.pending_output();
      if (!out.empty()) {
        const std::size_t n = out.size();
        slot.connection->write(out);  // a refusal closes it: on_closed follows
        slot.state.consume_output(n);
      }
      if (auto command = resetting ? std::optional<std::vector<std::uint8_t>>()
                                   : slot.state.take_command()) {
        const std::uint64_t generation = slot.state.stats().connections;
        const ReaderRef reader = *slot.reader;
        const unsigned index = slot.index;
        auto alive = alive_;
        g_debug("export: vpcd slot %u: APDU %s", slot.index,
                vscard::format_command_for_log(*command, options_.log_pins).c_str());
        bool sent = server_.transmit(
            reader, *command,
            [this, alive, index, generation, reader](std::optional<std::vector<std::uint8_t>> r,
                                                     std::optional<std::uint32_t> e) {
              if (*alive) on_answer(index, generation, reader, std::move(r), std::move(e));
            });
        if (!sent) {
          // No card, or the host has a command of its own (a script) outstanding
          // there: vpcd sees the card go and come back.
          slot.state.answer(std::nullopt);
          continue;
        }
      }
    }
    break;
  }
  if (slot.state.wants_connection()) {
    if (!slot.connection && !slot.connector->active()) {
      if (slot.lost) slot.connector->reconnect();  // after the backoff delay
      else slot.connector->start();
    }
  } else {
    if (slot.connector->active()) slot.connector->stop();
    if (!slot.connection) slot.lost = false;
  }
}

void VpcdExport::on_connected(Slot& slot, std::unique_ptr<vscard::Connection> connection) {
  if (!slot.state.wants_connection()) {
    connection.reset();  // the card went while connecting
    return;
  }
  if (is_self_connection(connection->socket())) {
    connection.reset();
    g_debug("export: vpcd slot %u: connected to itself (nothing listens); retrying", slot.index);
    slot.lost = true;
    slot.connector->reconnect();
    return;
  }
  if (slot.failing) {
    g_message("export: vpcd slot %u: connected to %s again", slot.index,
              slot.address.to_string().c_str());
  } else {
    g_message("export: vpcd slot %u: card of '%s' inserted (connected to vpcd at %s)",
              slot.index, slot.reader_name.c_str(), slot.address.to_string().c_str());
  }
  slot.failing = false;
  slot.lost = false;
  slot.connection = std::move(connection);
  slot.state.connected();
  Slot* raw = &slot;
  slot.connection->start([this, raw](vscard::Bytes data) { on_data(*raw, data); },
                         [this, raw](const vscard::CloseReason& why) {
                           on_closed(*raw, why.message);
                         });
  sync(slot);
}

void VpcdExport::on_data(Slot& slot, std::span<const std::uint8_t> data) {
  slot.state.receive(data);
  const auto polls = slot.state.stats().atr_polls;
  if (options_.verbose >= 2 && polls != slot.polls_logged) {
    g_debug("export: vpcd slot %u: get ATR (%" G_GUINT64_FORMAT " so far)", slot.index, polls);
  }
  slot.polls_logged = polls;
  for (vpcd::Control control : slot.state.take_power_events()) forward_power(slot, control);
  sync(slot);
}

void VpcdExport::forward_power(Slot& slot, vpcd::Control control) {
  const std::string what(vpcd::to_string(control));
  if (!slot.reader) return;
  // vpcd's frames are pcscd's IFDHPowerICC actions (ifd-vpcd.c): IFD_POWER_DOWN,
  // IFD_POWER_UP, IFD_RESET. A reset of an unpowered card is a cold reset
  // (ISO 7816-3 6.2.2), which the CardControl rules call PowerOn.
  vscard::CardControlEvent event = vscard::CardControlEvent::PowerOff;
  if (control == vpcd::Control::PowerOn) {
    event = vscard::CardControlEvent::PowerOn;
  } else if (control == vpcd::Control::Reset) {
    const auto* info = server_.reader_info(*slot.reader);
    event = info != nullptr && !info->powered ? vscard::CardControlEvent::PowerOn
                                              : vscard::CardControlEvent::WarmReset;
  }
  const vscard::CardControlResult result = server_.send_card_control(*slot.reader, event);
  if (result == vscard::CardControlResult::Sent) {
    g_info("export: vpcd slot %u: %s -> client's card (%s)", slot.index, what.c_str(),
           std::string(vscard::to_string(event)).c_str());
  } else {
    // A client without the extension (QEMU-era clients, libcacard's vscclient)
    // never learns of it, as before the extension; the card keeps its state.
    g_debug("export: vpcd slot %u: %s not forwarded: %s", slot.index, what.c_str(),
            std::string(vscard::to_string(result)).c_str());
  }
}

void VpcdExport::reader_use_changed(const std::string& pcsc_reader, int use) {
  // The reader name's last number is vpcd's slot ("Virtual PCD 00 01" -> 1),
  // which listens on vpcd's first port + slot (ifd-vpcd.c IFDHCreateChannel:
  // Channel + slot; Debian's reader.conf.d/vpcd: 35963); ours start at
  // options_.address.port (--export-pcsc=HOST:35964 is vpcd's slot 1 as our slot 0).
  const std::size_t space = pcsc_reader.rfind(' ');
  if (space == std::string::npos || options_.address.port < options_.vpcd_first_port) return;
  const auto vpcd_slot =
      vscard::parse_decimal<unsigned>(std::string_view(pcsc_reader).substr(space + 1), 0u, 999u);
  const unsigned first = options_.address.port - options_.vpcd_first_port;
  if (!vpcd_slot || *vpcd_slot < first) return;
  const unsigned index = *vpcd_slot - first;
  if (index >= slots_.size() || !slots_[index]->reader) return;
  Slot& slot = *slots_[index];
  const auto event = use == 0   ? vscard::CardControlEvent::ReaderNotInUse
                     : use == 1 ? vscard::CardControlEvent::ReaderInUse
                                : vscard::CardControlEvent::ReaderExclusive;
  const std::string what(vscard::to_string(event));
  const vscard::CardControlResult result = server_.send_card_control(*slot.reader, event);
  if (result == vscard::CardControlResult::Sent) {
    g_info("export: vpcd slot %u: %s -> client's card", slot.index, what.c_str());
  } else {
    g_debug("export: vpcd slot %u: %s not forwarded: %s", slot.index, what.c_str(),
            std::string(vscard::to_string(result)).c_str());
  }
}

void VpcdExport::on_closed(Slot& slot, const std::string& reason) {
  slot.connection.reset();
  slot.state.disconnected();
  slot.lost = true;
  if (slot.state.card_present()) {
    // vpcd went away under an inserted card: pcscd stopped or restarted.
    g_message("export: vpcd slot %u: vpcd closed the connection (%s); connecting again",
              slot.index, reason.c_str());
  }
  sync(slot);
}

void VpcdExport::on_connect_failed(Slot& slot, const GError* error,
                                   std::optional<std::chrono::milliseconds> retry_in) {
  const char* what = error ? error->message : "unknown error";
  if (!slot.failing) {
    // One line per failure streak; the retries are debug output.
    g_warning("export: vpcd slot %u: %s (is pcscd running with vsmartcard-vpcd, and does vpcd "
              "have this slot?); retrying", slot.index, what);
    slot.failing = true;
  } else {
    g_debug("export: vpcd slot %u: %s; retry in %lld ms", slot.index, what,
            retry_in ? static_cast<long long>(retry_in->count()) : -1LL);
  }
}

void VpcdExport::on_answer(unsigned index, std::uint64_t connection, ReaderRef reader,
                           std::optional<std::vector<std::uint8_t>> response,
                           std::optional<std::uint32_t> error) {
  if (index >= slots_.size()) return;
  Slot& slot = *slots_[index];
  // An answer for a connection that is gone (pcscd restarted meanwhile) or a
  // reader that left the slot must not reach the new one.
  if (!slot.connection || slot.state.stats().connections != connection || slot.reader != reader)
    return;
  slot.state.answer(std::move(response), error);
  sync(slot);
}

}  // namespace vschost
