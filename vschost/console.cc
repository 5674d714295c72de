// SPDX-License-Identifier: LGPL-2.1-or-later
#include "console.h"

#include <cstdio>
#include <sstream>

#include "vscard/apdu.h"
#include "vscard/decimal.h"
#include "vscard/printable.h"

namespace vschost {

Console::Console(HostServer& server, std::function<void()> on_quit)
    : server_(server), on_quit_(std::move(on_quit)) {}

Console::~Console() {
  if (watch_ != 0) g_source_remove(watch_);
  if (channel_ != nullptr) g_io_channel_unref(channel_);
}

void Console::start() {
  channel_ = g_io_channel_unix_new(0);
  watch_ = g_io_add_watch(channel_, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR),
                          &Console::on_input, this);
  std::printf("vschost> commands: list, send READER HEX, flush [READER], reconnect HOST PORT, quit\n");
  std::fflush(stdout);
}

gboolean Console::on_input(GIOChannel* channel, GIOCondition, gpointer data) {
  auto* self = static_cast<Console*>(data);
  gchar* line = nullptr;
  gsize length = 0;
  GIOStatus status = g_io_channel_read_line(channel, &line, &length, nullptr, nullptr);
  if (status == G_IO_STATUS_EOF || status == G_IO_STATUS_ERROR) {
    g_free(line);
    self->watch_ = 0;
    return G_SOURCE_REMOVE;  // stdin closed: keep serving clients
  }
  std::string text(line ? line : "", length);
  g_free(line);
  self->execute(text);
  return G_SOURCE_CONTINUE;
}

bool Console::parse_reader(const std::string& text, ReaderRef& ref) {
  const std::string_view view(text);
  const std::size_t colon = view.find(':');
  if (colon != std::string_view::npos) {
    const auto client = vscard::parse_decimal<ClientId>(view.substr(0, colon));
    const auto reader = vscard::parse_decimal<vscard::ReaderId>(view.substr(colon + 1));
    if (!client || !reader) return false;
    ref.client = *client;
    ref.reader = *reader;
    return true;
  }
  const auto reader = vscard::parse_decimal<vscard::ReaderId>(view);
  if (!reader) return false;
  ref.reader = *reader;
  for (const auto& [id, client] : server_.clients()) {
    if (client->session().reader(ref.reader) != nullptr) {
      ref.client = id;
      return true;
    }
  }
  return false;
}

void Console::execute(const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd.empty()) return;
  if (cmd == "list") {
    if (server_.clients().empty()) std::printf("no clients\n");
    for (const auto& [id, client] : server_.clients()) {
      std::printf("client %llu %s\n", static_cast<unsigned long long>(id), vscard::printable(client->peer()).c_str());
      for (const auto& r : client->session().readers()) {
        std::printf("  reader %llu:%u \"%s\" %s%s\n", static_cast<unsigned long long>(id), r.id,
                    vscard::printable(r.name).c_str(), r.card_present ? "card ATR " : "no card",
                    r.card_present ? vscard::to_hex(r.atr).c_str() : "");
      }
    }
  } else if (cmd == "send") {
    std::string reader, rest, word;
    in >> reader;
    while (in >> word) rest += word;
    ReaderRef ref;
    auto bytes = vscard::from_hex(rest);
    if (!parse_reader(reader, ref) || !bytes || bytes->empty()) {
      std::printf("usage: send READER HEX (READER: ID or CLIENT:ID, see list)\n");
    } else if (!server_.transmit(ref, *bytes,
                                 [](std::optional<std::vector<std::uint8_t>> response,
                                    std::optional<std::uint32_t> error) {
                                   if (response) {
                                     std::printf("response %s\n", vscard::to_hex(*response).c_str());
                                   } else if (error) {
                                     std::printf("client answered Error(%u)\n", *error);
                                   } else {
                                     std::printf("no response: card or client gone\n");
                                   }
                                   std::fflush(stdout);
                                 })) {
      std::printf("cannot send: no card in that reader, or an APDU is outstanding\n");
    }
  } else if (cmd == "flush") {
    std::string reader;
    if (!(in >> reader)) reader.assign(1, '0');  // the first reader
    ReaderRef ref;
    if (!parse_reader(reader, ref) || !server_.flush(ref)) std::printf("cannot flush %s\n", vscard::printable(reader).c_str());
  } else if (cmd == "reconnect") {
    std::string host, port;
    in >> host >> port;
    if (host.empty() || port.empty()) {
      std::printf("usage: reconnect HOST PORT\n");
    } else {
      std::printf("asked %zu client(s) to reconnect\n", server_.request_reconnect(host, port));
    }
  } else if (cmd == "quit" || cmd == "exit") {
    if (on_quit_) on_quit_();
  } else {
    std::printf("unknown command '%s': list, send READER HEX, flush [READER], reconnect HOST PORT, quit\n",
                vscard::printable(cmd).c_str());
  }
  std::fflush(stdout);
}

}  // namespace vschost
