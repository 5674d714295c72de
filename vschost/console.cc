// SPDX-License-Identifier: LGPL-2.1-or-later
#include "console.h"

#include <cstdio>
#include <sstream>

#include "vscard/apdu.h"
#include "vscard/decimal.h"
#include "vscard/printable.h"

namespace vschost {

Console::Console(HostServer& server, std::function<void()> on_quit)
    : server_(server),
      on_quit_(std::move(on_quit)),
      lines_([this](const std::string& line) { execute(line); }) {}

void Console::start() {
  // End of input (stdin closed) keeps vschost serving clients.
  lines_.start();
  std::printf("vschost> commands: list, send READER HEX, flush [READER], reconnect HOST PORT, quit\n");
  std::fflush(stdout);
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
    lines_.stop();  // the lines after `quit` are not commands
    if (on_quit_) on_quit_();
  } else {
    std::printf("unknown command '%s': list, send READER HEX, flush [READER], reconnect HOST PORT, quit\n",
                vscard::printable(cmd).c_str());
  }
  std::fflush(stdout);
}

}  // namespace vschost
