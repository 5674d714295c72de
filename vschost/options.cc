// SPDX-License-Identifier: LGPL-2.1-or-later
#include "options.h"

#include <glib.h>
#include <unistd.h>

#include <cstdio>
#include <iterator>
#include <set>
#include <string>

#include "command_line.h"
#include "help_text.h"

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

gboolean show_help(const gchar*, const gchar*, gpointer data, GError**) {
  *static_cast<bool*>(data) = true;
  return TRUE;
}

// The help lines of the options `names`, in that order; each name goes into
// `listed`, so that an option no section names can still be shown.
template <std::size_t N>
std::vector<programs::HelpItem> items(const GOptionEntry* entries, const char* const (&names)[N],
                                      std::set<std::string>& listed) {
  std::vector<programs::HelpItem> all;
  for (const char* name : names) {
    for (const GOptionEntry* e = entries; e->long_name != nullptr; ++e) {
      if (std::string(e->long_name) != name) continue;
      auto item = programs::help_items(e, 1);
      all.insert(all.end(), item.begin(), item.end());
      listed.insert(name);
    }
  }
  return all;
}

// --help: the layout vscclient's has (help_text.h), the options grouped.
std::string help(const GOptionEntry* entries) {
  programs::Help help;
  std::set<std::string> listed;
  help.usage = {"[OPTION]..."};
  help.summary =
      "A VSCard host for testing smart-card clients: what QEMU's ccid-card-passthru device "
      "is to a VSCard client (vscclient, libcacard's vscclient, SPICE). It answers clients "
      "exactly as QEMU 7.2 does (--mode qemu), or as a multi-reader host (--mode multi), "
      "and runs APDU scripts against their cards for CI.";
  help.sections.push_back(
      {"Listening",
       "ADDR: HOST:PORT, [IPV6]:PORT, :PORT (every address) or unix:PATH.",
       items(entries, {"listen", "tls-creds", "tls-handshake-timeout", "max-clients"}, listed)});
  help.sections.push_back({"Host", "", items(entries, {"mode", "max-readers"}, listed)});
  help.sections.push_back(
      {"Scripts and reports",
       "Scripts: see vschost(1) and docs/vschost-scripts.md. FORMAT: tap (TAP 13 on stdout) "
       "or json (events and step results as JSON lines on stdout), and junit:PATH (a JUnit "
       "XML file, checked before clients are served and written at the end).",
       items(entries, {"script", "report", "once", "timeout"}, listed)});
  help.sections.push_back(
      {"PC/SC export", "See docs/export-pcsc.md.",
       items(entries, {"export-pcsc", "export-slots", "vpcd-first-port"}, listed)});
  help.sections.push_back({"Console", "", items(entries, {"interactive", "no-interactive"}, listed)});
  help.sections.push_back({"Logging", "", items(entries, {"verbose", "log-pins"}, listed)});
  help.sections.push_back({"Information", "", items(entries, {"version", "help"}, listed)});
  // An option left out of the lists above still gets its line (and only it).
  std::vector<programs::HelpItem> others;
  for (const GOptionEntry* e = entries; e->long_name != nullptr; ++e) {
    if (listed.count(e->long_name) != 0) continue;
    auto item = programs::help_items(e, 1);
    others.insert(others.end(), item.begin(), item.end());
  }
  if (!others.empty()) help.sections.push_back({"Other options", "", others});
  help.sections.push_back(
      {"Commands on standard input",
       "Read when stdin is a terminal or with --interactive. READER is ID or CLIENT:ID.",
       {{"list", "list the clients, their readers and cards"},
        {"send READER HEX", "send an APDU to the card in READER"},
        {"flush [READER]", "send Flush and wait for FlushComplete"},
        {"reconnect HOST PORT",
         "ask the clients that support the Reconnect extension to move to HOST:PORT"},
        {"quit", "stop"}}});
  help.sections.push_back(
      {"Exit status",
       "",
       {{"0", "every script step passed (or, without a script, a clean stop)"},
        {"1", "a step failed, timed out or did not run"},
        {"2", "a usage or setup error (bad option, address in use, TLS files, script "
              "syntax)"}}});
  return programs::help_text("vschost", help);
}

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
  bool help_wanted = false;
  gint max_readers = 4, max_clients = 0, export_slots = 2, vpcd_first_port = 35963;
  gboolean once = FALSE, interactive = FALSE, no_interactive = FALSE, log_pins = FALSE;
  gint tls_handshake_timeout = 10;
  GOptionEntry entries[] = {
      {"listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &listen,
       "listen on ADDR (repeatable; default 127.0.0.1:2001)", "ADDR"},
      {"tls-creds", 0, 0, G_OPTION_ARG_FILENAME, &tls,
       "TLS with the x509 files of DIR (ca-cert.pem, server-cert.pem, server-key.pem; "
       "clients must present a certificate signed by the CA)", "DIR"},
      {"mode", 'm', 0, G_OPTION_ARG_STRING, &mode,
       "qemu (default): answer byte for byte like QEMU 7.2; multi: several readers, ISO ATR "
       "checks, Reconnect extension", "MODE"},
      {"max-readers", 0, 0, G_OPTION_ARG_INT, &max_readers,
       "readers per client in multi mode (default 4)", "N"},
      {"max-clients", 0, 0, G_OPTION_ARG_INT, &max_clients,
       "refuse connections beyond N clients at once (default 0: no limit)", "N"},
      {"script", 's', 0, G_OPTION_ARG_FILENAME, &script,
       "run the APDU script FILE against every client", "FILE"},
      {"report", 'r', 0, G_OPTION_ARG_STRING_ARRAY, &reports,
       "tap or json on stdout, junit:PATH to a file (repeatable: one stdout "
       "format and any number of files)", "FORMAT"},
      {"once", '1', 0, G_OPTION_ARG_NONE, &once,
       "serve one client: exit when its script finished (or it disconnected)", nullptr},
      {"timeout", 't', 0, G_OPTION_ARG_STRING, &timeout_text,
       "stop after D (5, 2.5s or 300ms; steps still running fail)", "D"},
      {"tls-handshake-timeout", 0, 0, G_OPTION_ARG_INT, &tls_handshake_timeout,
       "seconds a TLS client has to finish its handshake (default 10)", "SECONDS"},
      {"interactive", 'i', 0, G_OPTION_ARG_NONE, &interactive,
       "read commands from stdin even if it is not a terminal", nullptr},
      {"no-interactive", 0, 0, G_OPTION_ARG_NONE, &no_interactive,
       "never read commands from stdin", nullptr},
      {"export-pcsc", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK,
       reinterpret_cast<gpointer>(&set_export_pcsc),
       "hand the clients' cards to pcscd through vsmartcard's vpcd at HOST:PORT (default "
       "127.0.0.1:35963; slot N at PORT+N); see docs/export-pcsc.md", "HOST:PORT"},
      {"export-slots", 0, 0, G_OPTION_ARG_INT, &export_slots,
       "vpcd slots --export-pcsc may use (default 2, as Debian builds vpcd)", "N"},
      {"vpcd-first-port", 0, 0, G_OPTION_ARG_INT, &vpcd_first_port,
       "port of vpcd's slot 0 in pcscd's reader configuration (default 35963, Debian's), "
       "to tell which 'Virtual PCD' reader is which slot", "PORT"},
      {"verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
       reinterpret_cast<gpointer>(&count_verbose),
       "more log output (PIN-bearing commands stay redacted; see --log-pins)", nullptr},
      {"log-pins", 0, 0, G_OPTION_ARG_NONE, &log_pins,
       "write PIN-bearing commands (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER) "
       "unredacted into the JSON events: they carry PINs", nullptr},
      {"version", 'V', 0, G_OPTION_ARG_NONE, &version, "print the version and exit", nullptr},
      {"help", 'h', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
       reinterpret_cast<gpointer>(&show_help), "print this help and exit", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  // The one user-data pointer reaches show_help (the other callbacks ignore it).
  auto words = programs::parse_command_line(argc, argv, entries, &help_wanted, &error);
  Options o;
  auto cleanup = [&] {
    g_strfreev(listen);
    g_free(tls);
    g_free(mode);
    g_free(script);
    g_strfreev(reports);
    g_free(timeout_text);
  };
  if (!words) {
    cleanup();
    return std::nullopt;
  }
  if (help_wanted) {
    std::fputs(help(entries).c_str(), stdout);
    exit_now = true;
    cleanup();
    return std::nullopt;
  }
  if (version) {
    std::fputs(programs::version_text("vschost", VSCHOST_VERSION).c_str(), stdout);
    exit_now = true;
    cleanup();
    return std::nullopt;
  }
  if (!words->empty()) {
    error = "unexpected argument '" + words->front() + "'";
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
  if (vpcd_first_port < 1 || vpcd_first_port > 0xFFFF) {
    error = "--vpcd-first-port: expected a TCP port, 1 to 65535";
    return std::nullopt;
  }
  o.vpcd_first_port = static_cast<unsigned>(vpcd_first_port);
  o.interactive = !no_interactive && (interactive || isatty(STDIN_FILENO));
  return o;
}

}  // namespace vschost
