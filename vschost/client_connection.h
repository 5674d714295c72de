// SPDX-License-Identifier: LGPL-2.1-or-later
// ClientConnection: one client of vschost: its Connection, its HostSession, the
// SessionLink that drives them, and (with --script) its ScriptRunner. Session
// events are routed once, in on_session_event(), while the session is inside
// receive() and has queued its own answer; observers and the script may give it
// commands (send the next APDU), which the link writes by itself.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "host_observer.h"
#include "script_runner.h"
#include "vscard/connection.h"
#include "vscard/glib_ptr.h"
#include "vscard/host_session.h"
#include "vscard/session_link.h"

namespace vschost {

class ClientConnection : public ScriptTarget {
 public:
  // The client's answer to transmit(): the response, or the Error code it sent,
  // or neither when the reader, card or client went away first.
  using ResponseHandler = std::function<void(std::optional<std::vector<std::uint8_t>> response,
                                             std::optional<std::uint32_t> error)>;
  struct Callbacks {
    std::function<const std::vector<HostObserver*>&()> observers;
    // The connection ended (reason in one line); the owner destroys us later.
    std::function<void(ClientId, const std::string& reason)> gone;
    // A script step finished.
    std::function<void(ClientId, const StepResult&)> step;
    // The script run finished (passed or not).
    std::function<void(ClientId)> script_done;
  };

  ClientConnection(ClientId id, std::unique_ptr<vscard::Connection> connection,
                   vscard::HostPolicy policy, const Script* script, Callbacks callbacks);
  ~ClientConnection() override;
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  void start();
  // Sends a command APDU to the card in `reader`; `done` gets the answer. False
  // if there is no such card or an APDU to it is outstanding.
  bool transmit(vscard::ReaderId reader, std::span<const std::uint8_t> apdu,
                ResponseHandler done);
  bool request_reconnect(std::string_view host, std::string_view port);
  // Closes the connection from our side after sending what is queued; the
  // client is gone (Callbacks::gone) once that is out, or after
  // kCloseGraceSeconds if the client does not read it.
  void close(const std::string& reason);
  static constexpr unsigned kCloseGraceSeconds = 5;

  ClientId id() const { return id_; }
  const std::string& peer() const { return peer_; }
  const vscard::HostSession& session() const { return session_; }
  const ScriptRunner* runner() const { return runner_.get(); }
  bool is_gone() const { return gone_; }

  // ScriptTarget
  const std::vector<vscard::HostSession::ReaderInfo>& readers() const override {
    return session_.readers();
  }
  bool send_apdu(vscard::ReaderId reader, std::span<const std::uint8_t> apdu) override;
  bool flush(vscard::ReaderId reader) override;
  vscard::CardControlResult card_control(vscard::ReaderId reader,
                                         vscard::CardControlEvent event) override;

 private:
  struct Pending {
    std::vector<std::uint8_t> command;
    std::chrono::steady_clock::time_point sent;
    ResponseHandler done;
  };

  void on_session_event(const vscard::HostEvent& event);
  void on_closed(const std::string& reason);
  void update_timer();
  void finish_pending(vscard::ReaderId reader, std::optional<std::vector<std::uint8_t>> response,
                      std::optional<std::uint32_t> error);
  void script_step_done();
  void timer_fired();

  ClientId id_;
  std::unique_ptr<vscard::Connection> connection_;
  vscard::HostSession session_;
  std::string peer_;
  Callbacks callbacks_;
  std::unique_ptr<ScriptRunner> runner_;
  // After connection_ and session_: it goes first.
  std::optional<vscard::SessionLink<vscard::HostSession>> link_;
  std::map<vscard::ReaderId, Pending> pending_;
  vscard::GSourcePtr timer_;
  std::optional<std::string> closing_;  // close()'s reason, while the queue drains
  vscard::GSourcePtr close_timer_;
  bool gone_ = false;
  bool script_reported_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace vschost
