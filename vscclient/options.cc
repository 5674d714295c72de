// SPDX-License-Identifier: LGPL-2.1-or-later
// Command-line parsing (see options.h): GOption entries whose callbacks check
// each value as it comes; the combinations are checked once all are read.
#include "options.h"

#include <glib.h>

#include <iterator>
#include <string_view>

#include "command_line.h"
#include "emul_args.h"
#include "help_text.h"
#include "pin_guard.h"
#include "vicc_source.h"
#include "vscard/decimal.h"
#include "vscard/glib_ptr.h"

namespace vscclient {
namespace {

// What the callbacks fill in (the GOption group's user data).
struct Parsing {
  Options o;
  bool t0_given = false;
};

Options& opts(gpointer data) { return static_cast<Parsing*>(data)->o; }
std::string text(const gchar* value) { return value != nullptr ? value : ""; }

using Callback = gboolean (*)(const gchar*, const gchar*, gpointer, GError**);

GOptionEntry flag(const char* name, char short_name, Callback cb, const char* help) {
  return {name, short_name, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
          reinterpret_cast<gpointer>(cb), help, nullptr};
}
GOptionEntry valued(const char* name, char short_name, Callback cb, const char* arg,
                    const char* help) {
  return {name, short_name, 0, G_OPTION_ARG_CALLBACK, reinterpret_cast<gpointer>(cb), help, arg};
}
// --name or --name=VALUE (never --name VALUE: getopt_long's rule, command_line.h).
GOptionEntry optional(const char* name, Callback cb, const char* arg, const char* help) {
  return {name, 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK,
          reinterpret_cast<gpointer>(cb), help, arg};
}

// The options, section by section as --help shows them.
const GOptionEntry kCards[] = {
    flag("list", 0, [](const gchar*, const gchar*, gpointer d, GError**) -> gboolean {
      opts(d).list = true;
      return TRUE;
    }, "print the PC/SC readers (with ATRs), NSS tokens and certificates vscclient could "
       "offer, and exit"),
    flag("soft-card", 0, [](const gchar*, const gchar*, gpointer d, GError**) -> gboolean {
      opts(d).soft_card = true;
      return TRUE;
    }, "emulate a CAC from three self-signed certificates in an NSS database created once "
       "in $XDG_CACHE_HOME/vscard/soft-card"),
    valued("cert", 'c', [](const gchar*, const gchar* v, gpointer d, GError**) -> gboolean {
      opts(d).cert_names.push_back(text(v));
      return TRUE;
    }, "NAME", "emulate a CAC holding the certificate NAME (with its private key) from the "
               "NSS database; repeatable"),
    valued("nss-db", 0, [](const gchar*, const gchar* v, gpointer d, GError**) -> gboolean {
      opts(d).nss_db = text(v);
      return TRUE;
    }, "DIR", "the NSS database (default /etc/pki/nssdb)"),
    valued("emul-args", 'e', [](const gchar*, const gchar* v, gpointer d, GError**) -> gboolean {
      opts(d).emul_args = text(v);
      return TRUE;
    }, "ARGS", "libcacard emulator arguments, e.g. 'db=\"sql:DIR\" use_hw=yes' (see below)"),
    optional("pcsc", [](const gchar*, const gchar* v, gpointer d, GError**) -> gboolean {
      opts(d).pcsc = text(v);
      return TRUE;
    }, "PATTERN", "bridge the cards of local PC/SC readers as raw APDUs: every reader, or "
                  "those whose name contains PATTERN (a glob if it holds * or ?); see "
                  "docs/pcsc.md"),
    flag("exclusive", 0, [](const gchar*, const gchar*, gpointer d, GError**) -> gboolean {
      opts(d).exclusive = true;
      return TRUE;
    }, "with --pcsc: open cards exclusively (default: shared)"),
    flag("pcsc-reset", 0, [](const gchar*, const gchar*, gpointer d, GError**) -> gboolean {
      opts(d).pcsc_reset = true;
      return TRUE;
    }, "with --pcsc: the host's power off / reset requests reset the real card "
       "(SCardReconnect); default: logged, ignored"),
    // -p has no long name in libcacard's vscclient; GOption needs one.
    flag("pcsc-first", 'p', [](const gchar*, const gchar*, gpointer d, GError**) -> gboolean {
      opts(d).compare_pcsc = true;
      return TRUE;
    }, "like libcacard's vscclient -p: the card in the first PC/SC reader (with "
       "--pcsc=PATTERN: the first that matches)"),
    optional("vicc", [](const gchar*, const gchar* v, gpointer d, GError** e) -> gboolean {
      std::string error;
      opts(d).vicc = parse_vicc_listen(text(v), &error);
      return opts(d).vicc ? TRUE : programs::option_error(e, error);
    }, "[ADDR:]PORT", "take cards from vpcd card programs (vsmartcard's vicc, jcardsim...) "
                      "connecting to ADDR:PORT (default 127.0.0.1:35963, vpcd's port; IPv6 "
                      "as [::1]:PORT; 0: a free port, named in the log), no pcscd needed; "
                      "readers \"vicc 0\", \"vicc 1\"...; see docs/vicc.md"),
    valued("vicc-connect", 0, [](const gchar*, const gchar* v, gpointer d, GError** e)
               -> gboolean {
      std::string error;
      auto address = parse_vicc_connect(text(v), &error);
      if (!address) return programs::option_error(e, error);
      opts(d).vicc_connect.push_back(*address);
      return TRUE;
    }, "HOST:PORT", "connect to a card program started with vicc -R (reversed mode), "
                    "retrying while it is not there (repeatable; reader \"vicc HOST:PORT\")"),
    valued("vicc-timeout", 0, [](const gchar*, const gchar* v, gpointer d, GError** e)
               -> gboolean {
      auto seconds = vscard::parse_decimal<unsigned>(text(v), 1, 3600);
      if (!seconds) {
        return programs::option_error(e, "--vicc-timeout=SECONDS takes how long a card may "
                                         "take to answer (1..3600 seconds), not '" +
                                             text(v) + "'");
      }
      opts(d).vicc_timeout = std::chrono::seconds(*seconds);
      return TRUE;
    }, "SECONDS", "how long a vicc card may take to answer before the host gets an error "
                  "and the card is dropped (default 30)"),
};

const GOptionEntry kConnection[] = {
    valued("unix", 0, [](const gchar*, const gchar* v, gpointer d, GError**) -> gboolean {
      opts(d).unix_path = text(v);
      return TRUE;
    }, "PATH", "a Unix socket instead of HOST PORT"),
    valued("tls-creds", 0, [](const gchar*, const gchar* v, gpointer d, GError**) -> gboolean {
      opts(d).tls_creds = text(v);
      return TRUE;
    }, "DIR", "TLS with ca-cert.pem [client-cert.pem client-key.pem] from DIR (QEMU's "
              "tls-creds-x509 layout)"),
    valued("tls-hostname", 0, [](const gchar*, const gchar* v, gpointer d, GError**)
               -> gboolean {
      opts(d).tls_hostname = text(v);
      return TRUE;
    }, "NAME", "the name the host's certificate must carry"),
    valued("keepalive", 0, [](const gchar*, const gchar* v, gpointer d, GError** e) -> gboolean {
      vscard::GErrorPtr failure;
      opts(d).keepalive = vscard::Keepalive::parse(text(v), failure.out());
      if (!opts(d).keepalive) {
        return programs::option_error(e, std::string("--keepalive: ") + failure.message());
      }
      return TRUE;
    }, "I,N,C", "TCP keepalive: idle seconds, interval seconds, probes"),
    optional("reconnect", [](const gchar*, const gchar* v, gpointer d, GError** e) -> gboolean {
      opts(d).reconnect = true;
      if (v == nullptr) return TRUE;
      auto seconds = vscard::parse_decimal<unsigned>(v, 1, 86400);
      if (!seconds) {
        return programs::option_error(e, "--reconnect=MAX_DELAY takes the longest wait "
                                         "between attempts in seconds (1..86400), not '" +
                                             text(v) + "'");
      }
      opts(d).reconnect_max_delay = std::chrono::seconds(*seconds);
      return TRUE;
    }, "MAX", "reconnect with backoff when the host goes away, waiting at most MAX seconds "
              "between attempts (default: on, 30)"),
    flag("no-reconnect", 0, [](const gchar*, const gchar*, gpointer d, GError**) -> gboolean {
      opts(d).reconnect = false;
      return TRUE;
    }, "one attempt: exit 5 if the host cannot be reached (like libcacard's vscclient); "
       "exit when the session ends"),
    flag("once", 0, [](const gchar*, const gchar*, gpointer d, GError**) -> gboolean {
      opts(d).once = true;
      return TRUE;
    }, "connect (retrying until the host listens), serve one session, exit when it ends "
       "(for CI with vschost --once)"),
};

const GOptionEntry kPresentation[] = {
    valued("t0", 0, [](const gchar*, const gchar* v, gpointer d, GError** e) -> gboolean {
      static_cast<Parsing*>(d)->t0_given = true;
      const std::string value = text(v);
      if (value == "auto") {
        opts(d).t0 = vscard::T0Translation::Auto;
      } else if (value == "on") {
        opts(d).t0 = vscard::T0Translation::On;
      } else if (value == "off") {
        opts(d).t0 = vscard::T0Translation::Off;
      } else {
        return programs::option_error(e, "--t0 takes auto, on or off, not '" + value + "'");
      }
      return TRUE;
    }, "auto|on|off", "present the card as a T=0 card, translating the host's T=0 commands "
                      "(QEMU's reader speaks only T=0): for cards whose ATR offers no T=0 "
                      "(auto, the default), for every card (on), or never (off)"),
    flag("no-shaping", 0, [](const gchar*, const gchar*, gpointer d, GError**) -> gboolean {
      opts(d).shaping = false;
      return TRUE;
    }, "hand responses to the host at any size (default: split those QEMU's reader loses, "
       "54 bytes and over 374, with 61xx and GET RESPONSE)"),
    flag("raw", 0, [](const gchar*, const gchar*, gpointer d, GError**) -> gboolean {
      opts(d).raw = true;
      return TRUE;
    }, "pass ATR, commands and responses unchanged (--t0=off --no-shaping)"),
};

const GOptionEntry kSafety[] = {
    optional("pin-guard", [](const gchar*, const gchar* v, gpointer d, GError** e) -> gboolean {
      opts(d).pin_guard = PinGuard::kDefaultThreshold;
      if (v == nullptr) return TRUE;
      // 63Cx carries at most 15 tries.
      auto tries = vscard::parse_decimal<unsigned>(v, 0, 15);
      if (!tries) {
        return programs::option_error(e, "--pin-guard=N takes the number of PIN tries to "
                                         "keep (0..15), not '" + text(v) + "'");
      }
      opts(d).pin_guard = *tries;
      return TRUE;
    }, "N", "once the card says N (default 1) or fewer PIN tries are left, answer the host's "
            "VERIFY for that PIN with 6983 instead of passing it on, until you type "
            "allow-pin (see docs/security.md)"),
};

const GOptionEntry kLogging[] = {
    flag("verbose", 'v', [](const gchar*, const gchar*, gpointer d, GError**) -> gboolean {
      opts(d).debug_level++;
      return TRUE;
    }, "more log output (repeatable)"),
    valued("debug", 'd', [](const gchar*, const gchar* v, gpointer d, GError** e) -> gboolean {
      // libcacard's vscclient reads a number here; "-d x" is refused rather
      // than taken as 0.
      auto level = vscard::parse_decimal<int>(text(v), 0, 1000);
      if (!level) {
        return programs::option_error(e, "-d needs a debug level (a number), not '" + text(v) +
                                             "'");
      }
      opts(d).debug_level = *level;
      return TRUE;
    }, "LEVEL", "log level (0 quiet, 1 debug, 2 and more: libcacard too)"),
    optional("trace", [](const gchar*, const gchar* v, gpointer d, GError** e) -> gboolean {
      opts(d).trace = true;
      if (v == nullptr) return TRUE;
      if (std::string_view(v) != "unredacted") {
        return programs::option_error(e, "--trace takes no value or '=unredacted', not '" +
                                             text(v) + "'");
      }
      opts(d).trace_unredacted = true;
      return TRUE;
    }, "unredacted", "log every APDU; PINs (VERIFY, CHANGE REFERENCE DATA, RESET RETRY "
                     "COUNTER) are redacted unless =unredacted"),
};

const GOptionEntry kInformation[] = {
    flag("version", 0, [](const gchar*, const gchar*, gpointer d, GError**) -> gboolean {
      opts(d).show_version = true;
      return TRUE;
    }, "print the version and exit"),
    flag("help", 'h', [](const gchar*, const gchar*, gpointer d, GError**) -> gboolean {
      opts(d).show_help = true;
      return TRUE;
    }, "print this help and exit"),
};

template <std::size_t N>
void append(std::vector<GOptionEntry>& all, const GOptionEntry (&entries)[N]) {
  all.insert(all.end(), std::begin(entries), std::end(entries));
}

std::vector<GOptionEntry> all_entries() {
  std::vector<GOptionEntry> all;
  append(all, kCards);
  append(all, kConnection);
  append(all, kPresentation);
  append(all, kSafety);
  append(all, kLogging);
  append(all, kInformation);
  all.push_back({nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr});
  return all;
}

template <std::size_t N>
std::vector<programs::HelpItem> items(const GOptionEntry (&entries)[N]) {
  return programs::help_items(entries, N);
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv, std::string* error) {
  Parsing parsing;
  Options& o = parsing.o;
  const std::vector<GOptionEntry> entries = all_entries();
  auto words = programs::parse_command_line(argc, argv, entries.data(), &parsing, error);
  if (!words) return std::nullopt;
  if (o.show_help || o.show_version) return o;
  if (o.list) {
    if (!words->empty()) {
      *error = "--list takes no HOST PORT";
      return std::nullopt;
    }
    return o;
  }

  const std::size_t positional = words->size();
  if (o.unix_path) {
    if (positional != 0) {
      *error = "--unix PATH replaces HOST PORT; give one or the other";
      return std::nullopt;
    }
    o.address = vscard::Address::unix_path(*o.unix_path);
  } else if (positional != 2) {
    *error = positional < 2 ? "HOST and PORT are required" : "too many arguments after HOST PORT";
    return std::nullopt;
  } else {
    o.host = (*words)[0];
    o.port = (*words)[1];
    vscard::GErrorPtr failure;
    auto address = vscard::Address::from_host_port(o.host, o.port, failure.out());
    if (!address) {
      *error = failure.message();
      return std::nullopt;
    }
    o.address = *address;
  }
  if (o.soft_card && (!o.cert_names.empty() || o.emul_args || o.nss_db)) {
    *error = "--soft-card brings its own database and certificates; drop -e/-c/--cert/--nss-db";
    return std::nullopt;
  }
  if ((o.pcsc || o.compare_pcsc) &&
      (o.soft_card || !o.cert_names.empty() || o.emul_args || o.nss_db)) {
    *error = "--pcsc and -p bridge the cards of PC/SC readers; drop --soft-card/-e/-c/--nss-db";
    return std::nullopt;
  }
  const bool vicc = o.vicc || !o.vicc_connect.empty();
  if (vicc && (o.pcsc || o.compare_pcsc || o.soft_card || !o.cert_names.empty() || o.emul_args ||
               o.nss_db)) {
    *error = "--vicc and --vicc-connect take their cards from vpcd card programs; drop "
             "--pcsc/-p/--soft-card/-e/-c/--nss-db";
    return std::nullopt;
  }
  if (o.exclusive && !o.pcsc && !o.compare_pcsc) {
    *error = "--exclusive needs --pcsc (or -p)";
    return std::nullopt;
  }
  if (o.pcsc_reset && !o.pcsc && !o.compare_pcsc) {
    *error = "--pcsc-reset needs --pcsc (or -p)";
    return std::nullopt;
  }
  if (o.raw) {
    if (parsing.t0_given && o.t0 != vscard::T0Translation::Off) {
      *error = "--raw passes every byte unchanged; it cannot go with --t0=auto or --t0=on";
      return std::nullopt;
    }
    o.t0 = vscard::T0Translation::Off;
    o.shaping = false;
  }
  if (o.tls_hostname && !o.tls_creds) {
    *error = "--tls-hostname needs --tls-creds DIR";
    return std::nullopt;
  }
  return o;
}

std::string emul_args_for(const Options& o) {
  std::optional<std::string> base = o.emul_args;
  if (o.nss_db) {
    std::string db = db_emul_arg(o.nss_db->find(':') == std::string::npos ? "sql:" + *o.nss_db
                                                                          : *o.nss_db);
    base = base ? *base + " " + db : db;
  }
  if (!o.cert_names.empty()) return build_soft_emul_args(base, o.cert_names);
  return base.value_or("");
}

std::string usage_text(const char* program) {
  programs::Help help;
  help.usage = {"[OPTION]... HOST PORT", "[OPTION]... --unix PATH",
                "--list [--pcsc=PATTERN] [--nss-db=DIR]"};
  help.summary = "Feed smart cards to a VSCard host (QEMU's ccid-card-passthru, vschost). "
                 "Compatible with libcacard's vscclient.";
  help.sections.push_back(
      {"Cards",
       "Without any of these options vscclient bridges the PC/SC readers if pcscd has one, "
       "else emulates a CAC from the certificates with keys in ~/.pki/nssdb or "
       "/etc/pki/nssdb, else says what to add.",
       items(kCards)});
  help.sections.push_back({"Connection", "", items(kConnection)});
  help.sections.back().items.insert(
      help.sections.back().items.begin(),
      {"HOST PORT", "TCP host (name, IPv4 or IPv6 literal) and port"});
  help.sections.push_back(
      {"Presentation to the host", "See docs/t0-presentation.md.", items(kPresentation)});
  help.sections.push_back({"Card safety", "", items(kSafety)});
  help.sections.push_back({"Logging", "", items(kLogging)});
  help.sections.push_back({"Information", "", items(kInformation)});
  help.sections.push_back(
      {"Emulator arguments (-e)",
       "db=\"DIR\", use_hw=yes|no|removable, hw_type=CAC, hw_params=..., nssemul, passthru, "
       "soft=(SLOT,READER_NAME,CAC,PARAMS,CERT1,CERT2,...)",
       {}});
  help.sections.push_back(
      {"Commands on standard input",
       "",
       {{"insert [ID]", "insert the card again (default: the selected reader)"},
        {"remove [ID]", "remove the card"},
        {"select ID", "make ID the default reader"},
        {"list", "list the readers"},
        {"debug [LEVEL]", "show or set the log level"},
        {"allow-pin", "with --pin-guard: let VERIFY reach the card again"},
        {"exit", "remove cards and readers from the host, then exit"}}});
  help.sections.push_back(
      {"Exit status",
       "",
       {{"0", "ok (with --once or --no-reconnect: the host ended the session cleanly)"},
        {"1", "card or database error, or a session that broke"},
        {"4", "usage error"},
        {"5", "cannot connect, or a certificate refused by either side (never retried)"}}});
  return programs::help_text(program, help);
}

}  // namespace vscclient
