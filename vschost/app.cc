// SPDX-License-Identifier: LGPL-2.1-or-later
#define G_LOG_DOMAIN "vschost"

#include "app.h"

#include <glib.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <optional>

#include "console.h"
#include "event_log.h"
#include "host_server.h"
#include "program_log.h"
#include "qemu_limits.h"
#include "script_file.h"
#include "signal_watch.h"
#include "vpcd_export.h"
#include "vscard/glib_ptr.h"
#include "vscard/tls.h"
#include "vscard/transport_error.h"

namespace vschost {
namespace {

struct LoopUnref {
  void operator()(GMainLoop* l) const { g_main_loop_unref(l); }
};

void fail(const std::string& message) { programs::print_error(message); }

}  // namespace

int run(const Options& options) {
  // -v and -vv: debug from vschost and libvscard (-vv adds vschost's own
  // per-poll lines, vpcd_export.cc), never from other domains.
  programs::set_log_level(options.verbose > 0 ? 1 : 0);
  signal(SIGPIPE, SIG_IGN);
  // Blocks SIGINT and SIGTERM before any thread starts (signal_watch.h); the
  // main loop they stop is created below, so the handler looks it up.
  GMainLoop* running = nullptr;
  programs::SignalWatch signals({SIGINT, SIGTERM}, [&running](int) {
    if (running != nullptr) g_main_loop_quit(running);
  });

  std::optional<Script> script;
  std::string error;
  if (!options.script.empty()) {
    script = load_script(options.script, error);
    if (!script) {
      fail(error);
      return 2;
    }
  }

  vscard::Listener::Options listen_options;
  listen_options.handshake_timeout = options.tls_handshake_timeout;
  if (!options.tls_creds.empty()) {
    vscard::GErrorPtr gerror;
    if (!vscard::tls_available(gerror.out())) {
      fail(gerror.message());
      return 2;
    }
    auto creds = vscard::TlsCredentials::load(options.tls_creds,
                                              vscard::TlsCredentials::Endpoint::Server,
                                              gerror.out());
    if (!creds) {
      // The hint is for the files; a missing library says what to install itself.
      const bool files = !g_error_matches(gerror.get(), VSCARD_TRANSPORT_ERROR,
                                          static_cast<int>(vscard::TransportError::TlsUnavailable));
      fail(std::string(gerror.message()) +
           (files ? " (--tls-creds expects ca-cert.pem, server-cert.pem and server-key.pem in the "
                    "directory)"
                  : ""));
      return 2;
    }
    listen_options.tls = vscard::TlsServerOptions{creds, true};
  }

  const bool json = options.report_given && options.report.format == ReportOptions::Format::Json;
  const bool machine_stdout = options.report_given &&
                              (json || options.report.format == ReportOptions::Format::Tap);
  std::unique_ptr<Reporter> reporter;
  if (script) {
    reporter = std::make_unique<Reporter>(options.report, options.script, script->steps.size(),
                                          options.once, stdout, machine_stdout ? stderr : stdout);
    if (!reporter->open(error)) {
      fail(error);
      return 2;
    }
  }

  std::unique_ptr<GMainLoop, LoopUnref> loop(g_main_loop_new(nullptr, FALSE));
  bool timed_out = false;
  HostServer::Options server_options;
  server_options.policy = options.mode == vscard::HostPolicy::Mode::Qemu
                              ? vscard::HostPolicy::qemu()
                              : vscard::HostPolicy::multi(options.max_readers);
  server_options.max_clients = options.max_clients;
  server_options.script = script ? &*script : nullptr;
  server_options.reporter = reporter.get();
  server_options.once = options.once;
  HostServer server(server_options, [&] { g_main_loop_quit(loop.get()); });

  std::unique_ptr<EventLog> events;
  if (json) {
    events = std::make_unique<EventLog>(stdout, options.log_pins);
    server.add_observer(events.get());
  }

  // --mode qemu: tell the client's author what QEMU's usb-ccid would mishandle.
  std::unique_ptr<QemuLimitsWatch> qemu_limits;
  if (options.mode == vscard::HostPolicy::Mode::Qemu) {
    qemu_limits = std::make_unique<QemuLimitsWatch>([&events](ReaderRef r,
                                                              const QemuLimitWarning& w) {
      g_warning("client %" G_GUINT64_FORMAT " reader %u: QEMU would mishandle this (%s): %s",
                r.client, r.reader, w.kind.c_str(), w.message.c_str());
      if (events) events->qemu_limit(r, w);
    });
    server.add_observer(qemu_limits.get());
  }

  std::unique_ptr<VpcdExport> exporter;
  if (options.export_pcsc) {
    auto export_options = VpcdExport::parse(*options.export_pcsc, options.export_slots, error);
    if (!export_options) {
      fail(error);
      return 2;
    }
    export_options->verbose = options.verbose;
    export_options->log_pins = options.log_pins;
    export_options->vpcd_first_port = options.vpcd_first_port;
    exporter = std::make_unique<VpcdExport>(server, *export_options);
  }

  for (const auto& text : options.listen) {
    vscard::GErrorPtr gerror;
    auto address = vscard::Address::parse(text, gerror.out());
    if (!address) {
      fail(std::string("--listen: ") + gerror.message());
      return 2;
    }
    if (!server.listen(*address, listen_options, gerror.out())) {
      fail(gerror.message());
      return 2;
    }
    for (const auto& bound : server.listeners().back()->local_addresses()) {
      // One line per address on stderr, so scripts listening on port 0 find the port.
      std::fprintf(stderr, "vschost: listening on %s%s (%s mode)\n", bound.to_string().c_str(),
                   listen_options.tls ? " with TLS" : "",
                   options.mode == vscard::HostPolicy::Mode::Qemu ? "qemu" : "multi");
      if (events) events->listening(bound.to_string());
    }
  }
  std::fflush(stderr);
  if (reporter) reporter->begin();

  running = loop.get();
  guint timer = 0;
  struct TimeoutData {
    GMainLoop* loop;
    bool* timed_out;
  } tdata{loop.get(), &timed_out};
  if (options.timeout_seconds > 0) {
    timer = g_timeout_add(static_cast<guint>(options.timeout_seconds * 1000), +[](gpointer d) -> gboolean {
      auto* t = static_cast<TimeoutData*>(d);
      *t->timed_out = true;
      g_main_loop_quit(t->loop);
      return G_SOURCE_REMOVE;
    }, &tdata);
  }
  std::unique_ptr<Console> console;
  if (options.interactive) {
    console = std::make_unique<Console>(server, [&] { g_main_loop_quit(loop.get()); });
    console->start();
  }

  g_main_loop_run(loop.get());

  if (timer != 0 && !timed_out) g_source_remove(timer);
  if (timed_out) g_message("--timeout reached after %g s; stopping", options.timeout_seconds);
  // Unfinished script runs end here: their running step fails, the rest are not run.
  server.shutdown(timed_out ? "vschost --timeout reached" : "vschost stopped");
  console.reset();

  if (!reporter) return 0;
  if (!reporter->finish(error)) {
    fail(error);
    return 2;
  }
  if (reporter->runs().empty()) {
    fail("no client ran the script" + std::string(timed_out ? " before --timeout" : ""));
    return 1;
  }
  return reporter->all_passed() ? 0 : 1;
}

}  // namespace vschost
