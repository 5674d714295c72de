// SPDX-License-Identifier: LGPL-2.1-or-later
#define G_LOG_DOMAIN "vschost"

#include "host_server.h"

#include <glib.h>

#include <algorithm>

namespace vschost {

HostServer::HostServer(Options options, std::function<void()> on_done)
    : options_(std::move(options)), on_done_(std::move(on_done)) {}

HostServer::~HostServer() {
  reaper_.reset();
  listeners_.clear();
  clients_.clear();
  graveyard_.clear();
}

bool HostServer::listen(const vscard::Address& address, const vscard::Listener::Options& options,
                        GError** error) {
  vscard::Listener::Options counted = options;
  if (options_.max_clients != 0) {
    // --max-clients counts TLS handshakes in progress too: stalled handshakes
    // cannot pile up beyond it.
    counted.admit = [this](const std::string& peer, std::size_t handshakes) {
      if (clients_.size() + handshakes < options_.max_clients) return true;
      g_message("refusing %s: %zu clients connected and %zu TLS handshakes in progress "
                "(--max-clients)", peer.c_str(), clients_.size(), handshakes);
      return false;
    };
  }
  auto listener = vscard::Listener::create(
      address, counted,
      [this](std::unique_ptr<vscard::Connection> c) { accept(std::move(c)); },
      [](const std::string& peer, const GError* e) {
        g_message("turned away %s: %s", peer.c_str(), e ? e->message : "unknown error");
      },
      error);
  if (!listener) return false;
  listeners_.push_back(std::move(listener));
  return true;
}

void HostServer::add_observer(HostObserver* observer) { observers_.push_back(observer); }

void HostServer::remove_observer(HostObserver* observer) {
  observers_.erase(std::remove(observers_.begin(), observers_.end(), observer), observers_.end());
}

void HostServer::accept(std::unique_ptr<vscard::Connection> connection) {
  if (done_ || (options_.once && accepted_one_)) {
    g_message("refusing %s: --once and a client was served already", connection->peer().c_str());
    connection->close();
    return;
  }
  if (options_.max_clients != 0 && clients_.size() >= options_.max_clients) {
    g_message("refusing %s: %zu clients connected (--max-clients)", connection->peer().c_str(),
              clients_.size());
    connection->close();
    return;
  }
  accepted_one_ = true;
  ClientId id = next_id_++;
  g_message("client %" G_GUINT64_FORMAT " connected from %s%s", id, connection->peer().c_str(),
            connection->is_tls() ? " (TLS)" : "");
  ClientConnection::Callbacks cb;
  cb.observers = [this]() -> const std::vector<HostObserver*>& { return observers_; };
  cb.gone = [this](ClientId c, const std::string& reason) { client_gone(c, reason); };
  cb.step = [this](ClientId c, const StepResult& r) {
    if (options_.reporter == nullptr) return;
    auto it = clients_.find(c);
    std::string name = "client " + std::to_string(c);
    if (it != clients_.end()) name += " (" + it->second->peer() + ")";
    options_.reporter->step(name, r);
  };
  cb.script_done = [this](ClientId c) { script_done(c); };
  auto client = std::make_unique<ClientConnection>(id, std::move(connection), options_.policy,
                                                   options_.script, std::move(cb));
  ClientConnection* raw = client.get();
  clients_.emplace(id, std::move(client));
  raw->start();
}

void HostServer::script_done(ClientId id) {
  auto it = clients_.find(id);
  if (it == clients_.end() || options_.reporter == nullptr) return;
  const ScriptRunner* runner = it->second->runner();
  options_.reporter->run_done(
      RunReport{"client " + std::to_string(id) + " (" + it->second->peer() + ")",
                runner->results()});
  if (options_.once && !done_) {
    // The script decided the run; the client is let go.
    it->second->close("script finished");
  }
}

void HostServer::client_gone(ClientId id, const std::string& reason) {
  g_message("client %" G_GUINT64_FORMAT " disconnected: %s", id, reason.c_str());
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  // Destroyed from the main loop, not from inside its own callback.
  graveyard_.push_back(std::move(it->second));
  clients_.erase(it);
  if (!reaper_) {
    GSource* source = g_idle_source_new();
    g_source_set_callback(
        source,
        [](gpointer data) -> gboolean {
          static_cast<HostServer*>(data)->reap();
          return G_SOURCE_REMOVE;
        },
        this, nullptr);
    g_source_attach(source, g_main_context_get_thread_default());
    reaper_.reset(source);
  }
  if (options_.once && !done_) {
    done_ = true;
    if (on_done_) on_done_();
  }
}

void HostServer::reap() {
  reaper_.reset();
  graveyard_.clear();
}

bool HostServer::transmit(ReaderRef reader, std::span<const std::uint8_t> apdu,
                          ClientConnection::ResponseHandler done) {
  auto it = clients_.find(reader.client);
  if (it == clients_.end()) return false;
  return it->second->transmit(reader.reader, apdu, std::move(done));
}

bool HostServer::flush(ReaderRef reader) {
  auto it = clients_.find(reader.client);
  return it != clients_.end() && it->second->flush(reader.reader);
}

vscard::CardControlResult HostServer::send_card_control(ReaderRef reader,
                                                      vscard::CardControlEvent event) {
  auto it = clients_.find(reader.client);
  if (it == clients_.end()) return vscard::CardControlResult::Closed;
  return it->second->card_control(reader.reader, event);
}

const vscard::HostSession::ReaderInfo* HostServer::reader_info(ReaderRef reader) const {
  auto it = clients_.find(reader.client);
  if (it == clients_.end() || it->second->is_gone()) return nullptr;
  return it->second->session().reader(reader.reader);
}

std::size_t HostServer::request_reconnect(std::string_view host, std::string_view port) {
  std::size_t n = 0;
  for (auto& [id, client] : clients_) {
    if (client->request_reconnect(host, port)) ++n;
  }
  return n;
}

void HostServer::shutdown(const std::string& reason) {
  done_ = true;
  std::vector<ClientId> ids;
  for (auto& [id, client] : clients_) ids.push_back(id);
  for (ClientId id : ids) {
    auto it = clients_.find(id);
    if (it != clients_.end()) it->second->close(reason);
  }
  listeners_.clear();
}

}  // namespace vschost
