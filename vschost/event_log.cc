// SPDX-License-Identifier: LGPL-2.1-or-later
#include "event_log.h"

#include "json_line.h"
#include "vscard/apdu.h"
#include "vscard/atr.h"

namespace vschost {
namespace {

JsonLine base(const char* event, ClientId client) {
  JsonLine j;
  j.str("event", event).num("client", static_cast<std::int64_t>(client));
  return j;
}

JsonLine base(const char* event, ReaderRef ref) {
  JsonLine j = base(event, ref.client);
  j.num("reader", ref.reader);
  return j;
}

}  // namespace

void EventLog::emit(const std::string& line) {
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

void EventLog::listening(std::string_view address) {
  emit(JsonLine().str("event", "listening").str("address", address).done());
}

void EventLog::client_connected(ClientId c, std::string_view peer, bool tls) {
  emit(base("client_connected", c).str("peer", peer).boolean("tls", tls).done());
}

void EventLog::client_init(ClientId c, const vscard::host_event::ClientInit& init) {
  std::string caps = "[";
  for (std::uint32_t i = 0; i < init.capabilities.count &&
                            i < vscard::Capabilities::kMaxCapabilityWords; ++i) {
    if (i) caps += ",";
    caps += std::to_string(init.capabilities.words[i]);
  }
  caps += "]";
  std::string version = std::to_string(vscard::version_major(init.version)) + "." +
                        std::to_string(vscard::version_middle(init.version)) + "." +
                        std::to_string(vscard::version_minor(init.version));
  emit(base("init", c).num("version", init.version).str("version_text", version)
           .raw("capabilities", caps).boolean("magic_ok", init.magic_ok)
           .boolean("version_mismatch", init.version_mismatch)
           .boolean("reconnect_capable", init.capabilities.has(vscard::kCapabilityReconnect))
           .done());
}

void EventLog::reader_added(ReaderRef r, std::string_view name) {
  emit(base("reader_added", r).str("name", name).done());
}

void EventLog::reader_refused(ClientId c, std::string_view name, std::uint32_t code) {
  emit(base("reader_refused", c).str("name", name).num("code", code).done());
}

void EventLog::reader_removed(ReaderRef r) { emit(base("reader_removed", r).done()); }

void EventLog::card_inserted(ReaderRef r, std::span<const std::uint8_t> atr, bool accepted) {
  JsonLine j = base("card_inserted", r);
  j.str("atr", vscard::to_hex(atr)).boolean("accepted", accepted);
  vscard::AtrError error = vscard::AtrError::None;
  if (auto info = vscard::parse_atr(atr, &error)) {
    j.str("protocols", vscard::protocols_to_string(*info)).boolean("atr_valid", true)
        .str("historical", vscard::to_hex(info->historical));
  } else {
    j.boolean("atr_valid", false).str("atr_error", vscard::to_string(error));
  }
  emit(j.done());
}

void EventLog::card_removed(ReaderRef r) { emit(base("card_removed", r).done()); }

void EventLog::apdu_exchanged(ReaderRef r, std::span<const std::uint8_t> command,
                              std::span<const std::uint8_t> response,
                              std::optional<std::uint32_t> error,
                              std::chrono::microseconds duration) {
  JsonLine j = base("apdu", r);
  j.str("command", vscard::format_command_for_log(command, unredacted_));
  if (error) {
    j.num("error_code", *error);
  } else {
    j.str("response", vscard::to_hex(response));
    if (auto sw = vscard::status_word(response)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "%04X", *sw);
      j.str("sw", buf);
    }
  }
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.3f", static_cast<double>(duration.count()) / 1000.0);
  j.raw("duration_ms", ms);
  emit(j.done());
}

void EventLog::protocol_violation(ClientId c, std::string_view what) {
  emit(base("protocol_violation", c).str("what", what).done());
}

void EventLog::qemu_limit(ReaderRef r, const QemuLimitWarning& w) {
  emit(base("qemu_limit", r).str("kind", w.kind).num("size", static_cast<std::int64_t>(w.size))
           .str("message", w.message).done());
}

void EventLog::client_disconnected(ClientId c, std::string_view reason) {
  emit(base("disconnected", c).str("reason", reason).done());
}

}  // namespace vschost
