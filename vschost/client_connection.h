// ClientConnection: one client of vschost: its Connection, its HostSession, and
// (with --script) its ScriptRunner. Events the session reports are copied and
// handled after HostSession::receive() returns, so observers and the script may
// call back into the session (send the next APDU) without re-entering it.
#pragma once

#include <chrono>
#include <deque>
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
  // Closes the connection from our side (after sending what is queued).
  void close(const std::string& reason);

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

 private:
  struct Event {
    enum class Kind { Init, ReaderAdded, ReaderRefused, ReaderRemoved, CardInserted,
                      CardRemoved, Response, ApduError, FlushCompleted, Violation, Closed };
    Kind kind;
    vscard::ReaderId reader = 0;
    std::vector<std::uint8_t> bytes;
    std::string text;
    std::uint32_t code = 0;
    bool flag = false;
    vscard::host_event::ClientInit init{};
  };
  struct Pending {
    std::vector<std::uint8_t> command;
    std::chrono::steady_clock::time_point sent;
    ResponseHandler done;
  };

  void on_session_event(const vscard::HostEvent& event);
  void on_data(vscard::Bytes data);
  void on_closed(const std::string& reason);
  void process_events();
  void write_output();
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
  std::deque<Event> events_;
  std::map<vscard::ReaderId, Pending> pending_;
  vscard::GSourcePtr timer_;
  bool input_dead_ = false;  // QEMU mode after overflow: read and discard, like QEMU's silence
  bool gone_ = false;
  bool script_reported_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace vschost
