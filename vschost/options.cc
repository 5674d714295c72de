// SPDX-License-Identifier: LGPL-2.1-or-later
#include "options.h"

#include <glib.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

namespace vschost {
namespace {

int g_verbose = 0;
std::optional<std::string> g_export_pcsc;

// --export-pcsc takes an optional value, which GOption gives only to callbacks.
gboolean set_export_pcsc(const gchar*, const gchar* value, gpointer, GError**) {
  g_export_pcsc = value ? value : "";
  return TRUE;
}

gboolean count_verbose(const gchar*, const gchar*, gpointer, GError**) {
  ++g_verbose;
  return TRUE;
}

struct OptionContextFree {
  void operator()(GOptionContext* c) const { g_option_context_free(c); }
};

const char kDescription[] =
    "vschost is a VSCard host: what QEMU's ccid-card-passthru device is to a\n"
    "VSCard client (vscclient, libcacard's vscclient, SPICE). It answers clients\n"
    "exactly as QEMU 7.2 does (--mode qemu), or as a multi-reader host\n"
    "(--mode multi), and runs APDU scripts against their cards for CI.\n"
    "\n"
    "ADDR: HOST:PORT, [IPV6]:PORT, :PORT (every address) or unix:PATH.\n"
    "--report: tap (TAP 13 on stdout) or json (events and step results as JSON\n"
    "lines on stdout), and junit:PATH (a JUnit XML file, checked before clients\n"
    "are served and written at the end); repeat it for several at once.\n"
    "Scripts: see vschost(1) and docs/vschost-scripts.md.\n"
    "\n"
    "Exit status: 0 when every script step passed (or, without a script, a clean\n"
    "stop); 1 when a step failed, timed out or did not run; 2 for a usage or\n"
    "setup error (bad option, address in use, TLS files, script syntax).\n"
    "\n"
    "Interactive commands (stdin a terminal): list, send READER HEX, flush\n"
    "[READER], reconnect HOST PORT, quit. READER is ID or CLIENT:ID.";

}  // namespace

std::optional<Options> parse_options(int argc, char** argv, std::string& error, bool& exit_now) {
  exit_now = false;
  g_verbose = 0;
  g_export_pcsc.reset();
  gchar** listen = nullptr;
  gchar* tls = nullptr;
  gchar* mode = nullptr;
  gchar* script = nullptr;
  gchar** reports = nullptr;
  gchar* timeout_text = nullptr;
  gboolean version = FALSE;
  gint max_readers = 4, max_clients = 0, export_slots = 2;
  gboolean once = FALSE, interactive = FALSE, no_interactive = FALSE, log_pins = FALSE;
  gint tls_handshake_timeout = 10;
  GOptionEntry entries[] = {
      {"listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &listen,
       "Listen on ADDR (repeatable; default 127.0.0.1:2001)", "ADDR"},
      {"tls-creds", 0, 0, G_OPTION_ARG_FILENAME, &tls,
       "TLS with the x509 files of DIR (ca-cert.pem, server-cert.pem, server-key.pem; "
       "clients must present a certificate signed by the CA)", "DIR"},
      {"mode", 'm', 0, G_OPTION_ARG_STRING, &mode,
       "qemu (default): answer byte for byte like QEMU 7.2; multi: several readers, ISO ATR "
       "checks, Reconnect extension", "MODE"},
      {"max-readers", 0, 0, G_OPTION_ARG_INT, &max_readers,
       "Readers per client in multi mode (default 4)", "N"},
      {"max-clients", 0, 0, G_OPTION_ARG_INT, &max_clients,
       "Refuse connections beyond N clients at once (default 0: no limit)", "N"},
      {"script", 's', 0, G_OPTION_ARG_FILENAME, &script,
       "Run the APDU script FILE against every client", "FILE"},
      {"report", 'r', 0, G_OPTION_ARG_STRING_ARRAY, &reports,
       "Report: tap or json on stdout, junit:PATH to a file (repeatable: one stdout "
       "format and any number of files)", "FORMAT"},
      {"once", '1', 0, G_OPTION_ARG_NONE, &once,
       "Serve one client: exit when its script finished (or it disconnected)", nullptr},
      {"timeout", 't', 0, G_OPTION_ARG_STRING, &timeout_text,
       "Stop after D (5, 2.5s or 300ms; steps still running fail)", "D"},
      {"tls-handshake-timeout", 0, 0, G_OPTION_ARG_INT, &tls_handshake_timeout,
       "Seconds a TLS client has to finish its handshake (default 10)", "SECONDS"},
      {"interactive", 'i', 0, G_OPTION_ARG_NONE, &interactive,
       "Read commands from stdin even if it is not a terminal", nullptr},
      {"no-interactive", 0, 0, G_OPTION_ARG_NONE, &no_interactive,
       "Never read commands from stdin", nullptr},
      {"export-pcsc", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK,
       reinterpret_cast<gpointer>(&set_export_pcsc),
       "Hand the clients' cards to pcscd through vsmartcard's vpcd at HOST:PORT (default "
       "127.0.0.1:35963; slot N at PORT+N); see docs/export-pcsc.md", "HOST:PORT"},
      {"export-slots", 0, 0, G_OPTION_ARG_INT, &export_slots,
       "vpcd slots --export-pcsc may use (default 2, as Debian builds vpcd)", "N"},
      {"verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
       reinterpret_cast<gpointer>(&count_verbose),
       "More log output (PIN-bearing commands stay redacted; see --log-pins)", nullptr},
      {"log-pins", 0, 0, G_OPTION_ARG_NONE, &log_pins,
       "Write PIN-bearing commands (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER) "
       "unredacted into the JSON events: they carry PINs", nullptr},
      {"version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  std::unique_ptr<GOptionContext, OptionContextFree> ctx(
      g_option_context_new("- QEMU-compatible VSCard host for testing smart-card clients"));
  g_option_context_add_main_entries(ctx.get(), entries, nullptr);
  g_option_context_set_description(ctx.get(), kDescription);
  GError* gerror = nullptr;
  bool ok = g_option_context_parse(ctx.get(), &argc, &argv, &gerror);
  Options o;
  auto cleanup = [&] {
    g_strfreev(listen);
    g_free(tls);
    g_free(mode);
    g_free(script);
    g_strfreev(reports);
    g_free(timeout_text);
  };
  if (!ok) {
    error = gerror->message;
    error += " (see vschost --help)";
    g_error_free(gerror);
    cleanup();
    return std::nullopt;
  }
  if (argc > 1) {
    error = std::string("unexpected argument '") + argv[1] + "' (see vschost --help)";
    cleanup();
    return std::nullopt;
  }
  if (version) {
    std::printf("vschost %s\n", VSCHOST_VERSION);
    exit_now = true;
    cleanup();
    return std::nullopt;
  }
  for (gchar** p = listen; p && *p; ++p) o.listen.emplace_back(*p);
  if (o.listen.empty()) o.listen.emplace_back(kDefaultListen);
  if (tls) o.tls_creds = tls;
  if (script) o.script = script;
  std::string mode_text = mode ? mode : "qemu";
  std::vector<std::string> report_texts;
  for (gchar** p = reports; p && *p; ++p) report_texts.emplace_back(*p);
  std::string timeout_string = timeout_text ? timeout_text : "0";
  cleanup();
  if (mode_text == "qemu") {
    o.mode = vscard::HostPolicy::Mode::Qemu;
  } else if (mode_text == "multi") {
    o.mode = vscard::HostPolicy::Mode::Multi;
  } else {
    error = "--mode: expected qemu or multi, got '" + mode_text + "'";
    return std::nullopt;
  }
  if (max_readers < 1 || max_readers > 1024) {
    error = "--max-readers: expected 1 to 1024";
    return std::nullopt;
  }
  if (max_clients < 0) {
    error = "--max-clients: expected 0 (no limit) or more";
    return std::nullopt;
  }
  o.max_readers = static_cast<unsigned>(max_readers);
  o.max_clients = static_cast<unsigned>(max_clients);
  for (const auto& text : report_texts) {
    if (!add_report_option(text, o.report, error)) return std::nullopt;
    o.report_given = true;
  }
  if (o.report_given && o.script.empty()) {
    // json alone streams events; the others report script steps.
    if (o.report.format != ReportOptions::Format::Json || !o.report.junit_paths.empty()) {
      error = "--report needs --script (it reports script steps; use -v for a log)";
      return std::nullopt;
    }
  }
  Millis timeout{0};
  if (!parse_duration_text(timeout_string, timeout)) {
    error = "--timeout: expected a duration such as 120, 2.5s or 300ms (at most one day), "
            "not '" + timeout_string + "'";
    return std::nullopt;
  }
  o.timeout_seconds = static_cast<double>(timeout.count()) / 1000.0;
  if (tls_handshake_timeout < 1) {
    error = "--tls-handshake-timeout: expected a number of seconds, 1 or more";
    return std::nullopt;
  }
  o.tls_handshake_timeout = std::chrono::seconds(tls_handshake_timeout);
  o.once = once;
  o.verbose = g_verbose;
  o.log_pins = log_pins;
  o.report.log_pins = log_pins;
  o.export_pcsc = g_export_pcsc;
  if (export_slots < 1) {
    error = "--export-slots: expected 1 or more";
    return std::nullopt;
  }
  o.export_slots = static_cast<unsigned>(export_slots);
  o.interactive = !no_interactive && (interactive || isatty(STDIN_FILENO));
  return o;
}

}  // namespace vschost
