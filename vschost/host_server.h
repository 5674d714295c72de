// SPDX-License-Identifier: LGPL-2.1-or-later
// HostServer: vschost's listeners and clients. One ClientConnection (one
// HostSession) per accepted connection; observers hear about every client,
// reader and card. The seam for other parts (PC/SC export, the console):
// add_observer() for events, transmit() to talk to a reader's card.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client_connection.h"
#include "host_observer.h"
#include "report.h"
#include "script.h"
#include "vscard/address.h"
#include "vscard/listener.h"

namespace vschost {

class HostServer {
 public:
  struct Options {
    vscard::HostPolicy policy;
    std::size_t max_clients = 0;       // 0: no limit
    const Script* script = nullptr;    // run for every client
    Reporter* reporter = nullptr;      // with a script
    bool once = false;                 // stop after the first client (or its script)
  };

  HostServer(Options options, std::function<void()> on_done);
  ~HostServer();

  // Listens on `address`. False and `error` set (one line) on failure.
  bool listen(const vscard::Address& address, const vscard::Listener::Options& options,
              GError** error);
  const std::vector<std::unique_ptr<vscard::Listener>>& listeners() const { return listeners_; }

  void add_observer(HostObserver* observer);
  void remove_observer(HostObserver* observer);

  // Sends `apdu` to the card in `reader`; `done` gets the answer (see
  // ClientConnection::transmit). False if there is no such client, reader or card.
  bool transmit(ReaderRef reader, std::span<const std::uint8_t> apdu,
                ClientConnection::ResponseHandler done);
  bool flush(ReaderRef reader);
  // Sends a CardControl event (extension) to the card in `reader`.
  vscard::CardControlResult send_card_control(ReaderRef reader, vscard::CardControlEvent event);
  // The reader's state in its client's session, or nullptr.
  const vscard::HostSession::ReaderInfo* reader_info(ReaderRef reader) const;
  // Sends Reconnect to every client that advertised it; returns how many.
  std::size_t request_reconnect(std::string_view host, std::string_view port);

  const std::map<ClientId, std::unique_ptr<ClientConnection>>& clients() const { return clients_; }
  // Ends every client's script as not finished and closes all connections.
  void shutdown(const std::string& reason);

 private:
  void accept(std::unique_ptr<vscard::Connection> connection);
  void client_gone(ClientId id, const std::string& reason);
  void script_done(ClientId id);
  void reap();

  Options options_;
  std::function<void()> on_done_;
  std::vector<std::unique_ptr<vscard::Listener>> listeners_;
  std::vector<HostObserver*> observers_;
  std::map<ClientId, std::unique_ptr<ClientConnection>> clients_;
  std::vector<std::unique_ptr<ClientConnection>> graveyard_;
  vscard::GSourcePtr reaper_;
  ClientId next_id_ = 1;
  bool done_ = false;
  bool accepted_one_ = false;
};

}  // namespace vschost
