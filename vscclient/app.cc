// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient's main loop (see app.h).
#include "app.h"

#include <csignal>
#include <string>
#include <utility>

#include "card_sources.h"
#include "log.h"
#include "signal_watch.h"
#include "vscard/overloaded.h"

namespace vscclient {

App::App(Options options)
    : options_(std::move(options)),
      // CardControl: every card source answers power events (bridge.h).
      session_(vscard::ClientSession::Options{vscard::kCapabilityReconnect |
                                              vscard::kCapabilityCardControl},
               [this](const vscard::ClientEvent& event) { route(event); }),
      bridge_(session_,
              Bridge::Options{vscard::kDefaultMaxMessageSize, options_.trace,
                              options_.trace_unredacted, options_.pin_guard,
                              {options_.t0, options_.shaping}}),
      console_(bridge_, options_.pin_guard.has_value(), [this] { begin_exit(); }) {}

App::~App() {
  uplink_.reset();
  if (source_) source_->stop();
  source_.reset();
  if (loop_ != nullptr) g_main_loop_unref(loop_);
}

int App::run() {
  std::signal(SIGPIPE, SIG_IGN);
  // Before the card sources start their threads (signal_watch.h).
  signals_ = std::make_unique<programs::SignalWatch>(std::initializer_list<int>{SIGINT, SIGTERM},
                                                     [this](int) { begin_exit(); });
  loop_ = g_main_loop_new(nullptr, FALSE);

  std::string error;
  uplink_ = Uplink::create(
      options_, session_,
      Uplink::Handlers{[this] { bridge_.restarted(); }, [this](ExitCause c) { finish(c); }},
      &error);
  if (!uplink_) {
    print_error(error);
    return exit_status(ExitCause::SetupFailed);
  }
  source_ = make_card_source(options_, &error);
  if (!source_ || !source_->start(g_main_context_default(), bridge_, &error)) {
    print_error(error);
    return exit_status(ExitCause::SetupFailed);
  }

  console_.start();
  uplink_->start();
  g_main_loop_run(loop_);
  return exit_status(cause_);
}

// Every session event, once: the APDUs go to the bridge, the Reconnect
// request to the uplink, the rest to the log.
void App::route(const vscard::ClientEvent& event) {
  namespace ev = vscard::client_event;
  auto name = [this](vscard::ReaderHandle reader) { return session_.reader(reader)->name.c_str(); };
  std::visit(
      vscard::Overloaded{
          [&](const ev::ApduReceived& apdu) { bridge_.on_apdu(apdu.reader, apdu.apdu); },
          [&](const ev::HostInit& init) {
            if (init.version_mismatch) {
              g_warning("host speaks VSCard version %u.%u.%u, we speak %u.%u.%u; going on",
                        vscard::version_major(init.version), vscard::version_middle(init.version),
                        vscard::version_minor(init.version),
                        vscard::version_major(vscard::kProtocolVersion),
                        vscard::version_middle(vscard::kProtocolVersion),
                        vscard::version_minor(vscard::kProtocolVersion));
            }
            g_debug("host Init received");
            uplink_->session_established();
          },
          [&](const ev::ReaderAccepted& accepted) {
            g_message("host accepted reader %s as reader id %u", name(accepted.reader),
                      accepted.id);
          },
          [&](const ev::ReaderRejected& rejected) {
            g_warning("host refused reader %s: %.*s (code %u)", name(rejected.reader),
                      static_cast<int>(rejected.reason.size()), rejected.reason.data(),
                      rejected.code);
          },
          [&](const ev::AtrRejected& atr) {
            g_warning("host refused the ATR of the card in %s (error code %u)", name(atr.reader),
                      atr.code);
          },
          [&](const ev::ReconnectRequested& move) { uplink_->move_to(move.host, move.port); },
          [&](const ev::CardControlReceived& control) {
            bridge_.on_card_control(control.reader, control.event);
          },
          [&](const ev::HostError& error) {
            g_warning("host reported error %u for reader id %u", error.code, error.id);
          },
          [&](const ev::ProtocolViolation& violation) {
            g_warning("host broke the protocol: %.*s", static_cast<int>(violation.what.size()),
                      violation.what.data());
          },
          [&](const ev::Closed& closed) {
            g_warning("closing the connection to %s: %.*s", uplink_->peer().c_str(),
                      static_cast<int>(closed.reason.size()), closed.reason.data());
          },
      },
      event);
}

void App::begin_exit() {
  if (exiting_) return;
  exiting_ = true;
  console_.stop();
  // libcacard's vscclient sends CardRemove then ReaderRemove for every reader.
  bridge_.remove_all();
  uplink_->shut_down([this] { finish(ExitCause::Done); });
}

void App::finish(ExitCause cause) {
  cause_ = cause;
  if (loop_ != nullptr) g_main_loop_quit(loop_);
}

}  // namespace vscclient
