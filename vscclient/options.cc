// SPDX-License-Identifier: LGPL-2.1-or-later
// Command-line parsing (see options.h).
#include "options.h"

#include <getopt.h>

#include <cstdlib>
#include <string_view>

#include "emul_args.h"
#include "pin_guard.h"
#include "vicc_source.h"
#include "vscard/glib_ptr.h"

namespace vscclient {
namespace {

enum LongOnly {
  kSoftCard = 256,
  kNssDb,
  kTlsCreds,
  kTlsHostname,
  kKeepalive,
  kReconnect,
  kNoReconnect,
  kOnce,
  kUnix,
  kTrace,
  kPinGuard,
  kVersion,
  kPcsc,
  kExclusive,
  kPcscReset,
  kList,
  kT0,
  kNoShaping,
  kRaw,
  kVicc,
  kViccConnect,
  kViccTimeout,
};

// libcacard's get_id_from_string(): a number, or `fallback` when the text has
// no digits at its start (so "-d x" does not silently mean 0).
bool parse_uint(std::string_view text, unsigned long max, unsigned long* out) {
  if (text.empty()) return false;
  unsigned long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned long>(c - '0');
    if (value > max) return false;
  }
  *out = value;
  return true;
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv, std::string* error) {
  static const option long_options[] = {
      {"soft-card", no_argument, nullptr, kSoftCard},
      {"pcsc", optional_argument, nullptr, kPcsc},
      {"exclusive", no_argument, nullptr, kExclusive},
      {"pcsc-reset", no_argument, nullptr, kPcscReset},
      {"list", no_argument, nullptr, kList},
      {"vicc", optional_argument, nullptr, kVicc},
      {"vicc-connect", required_argument, nullptr, kViccConnect},
      {"vicc-timeout", required_argument, nullptr, kViccTimeout},
      {"nss-db", required_argument, nullptr, kNssDb},
      {"cert", required_argument, nullptr, 'c'},
      {"emul-args", required_argument, nullptr, 'e'},
      {"debug", required_argument, nullptr, 'd'},
      {"tls-creds", required_argument, nullptr, kTlsCreds},
      {"tls-hostname", required_argument, nullptr, kTlsHostname},
      {"keepalive", required_argument, nullptr, kKeepalive},
      {"reconnect", optional_argument, nullptr, kReconnect},
      {"no-reconnect", no_argument, nullptr, kNoReconnect},
      {"once", no_argument, nullptr, kOnce},
      {"unix", required_argument, nullptr, kUnix},
      {"trace", optional_argument, nullptr, kTrace},
      {"pin-guard", optional_argument, nullptr, kPinGuard},
      {"t0", required_argument, nullptr, kT0},
      {"no-shaping", no_argument, nullptr, kNoShaping},
      {"raw", no_argument, nullptr, kRaw},
      {"verbose", no_argument, nullptr, 'v'},
      {"version", no_argument, nullptr, kVersion},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  Options o;
  bool t0_given = false;
  optind = 1;
  opterr = 0;  // we print our own one-line errors
  int c;
  while ((c = getopt_long(argc, argv, "c:e:d:pvh", long_options, nullptr)) != -1) {
    std::string_view arg = optarg != nullptr ? optarg : "";
    unsigned long number = 0;
    switch (c) {
      case 'c': o.cert_names.emplace_back(arg); break;
      case 'e': o.emul_args = std::string(arg); break;
      case 'd':
        if (!parse_uint(arg, 1000, &number)) {
          *error = "-d needs a debug level (a number), not '" + std::string(arg) + "'";
          return std::nullopt;
        }
        o.debug_level = static_cast<int>(number);
        break;
      case 'p': o.compare_pcsc = true; break;
      case 'v': o.debug_level++; break;
      case 'h': o.show_help = true; break;
      case kVersion: o.show_version = true; break;
      case kSoftCard: o.soft_card = true; break;
      case kPcsc: o.pcsc = std::string(arg); break;
      case kExclusive: o.exclusive = true; break;
      case kPcscReset: o.pcsc_reset = true; break;
      case kList: o.list = true; break;
      case kVicc:
        o.vicc = parse_vicc_listen(std::string(arg), error);
        if (!o.vicc) return std::nullopt;
        break;
      case kViccConnect: {
        auto address = parse_vicc_connect(std::string(arg), error);
        if (!address) return std::nullopt;
        o.vicc_connect.push_back(*address);
        break;
      }
      case kViccTimeout:
        if (!parse_uint(arg, 3600, &number) || number == 0) {
          *error = "--vicc-timeout=SECONDS takes how long a card may take to answer "
                   "(1..3600 seconds), not '" + std::string(arg) + "'";
          return std::nullopt;
        }
        o.vicc_timeout = std::chrono::seconds(number);
        break;
      case kNssDb: o.nss_db = std::string(arg); break;
      case kTlsCreds: o.tls_creds = std::string(arg); break;
      case kTlsHostname: o.tls_hostname = std::string(arg); break;
      case kKeepalive: {
        vscard::GErrorPtr failure;
        o.keepalive = vscard::Keepalive::parse(arg, failure.out());
        if (!o.keepalive) {
          *error = std::string("--keepalive: ") + failure.message();
          return std::nullopt;
        }
        break;
      }
      case kReconnect:
        o.reconnect = true;
        if (optarg != nullptr) {
          if (!parse_uint(arg, 86400, &number) || number == 0) {
            *error = "--reconnect=MAX_DELAY takes the longest wait between attempts in "
                     "seconds (1..86400), not '" + std::string(arg) + "'";
            return std::nullopt;
          }
          o.reconnect_max_delay = std::chrono::seconds(number);
        }
        break;
      case kNoReconnect: o.reconnect = false; break;
      case kOnce: o.once = true; break;
      case kUnix: o.unix_path = std::string(arg); break;
      case kTrace:
        o.trace = true;
        if (optarg != nullptr) {
          if (arg != "unredacted") {
            *error = "--trace takes no value or '=unredacted', not '" + std::string(arg) + "'";
            return std::nullopt;
          }
          o.trace_unredacted = true;
        }
        break;
      case kPinGuard:
        o.pin_guard = PinGuard::kDefaultThreshold;
        if (optarg != nullptr) {
          // 63Cx carries at most 15 tries.
          if (!parse_uint(arg, 15, &number)) {
            *error = "--pin-guard=N takes the number of PIN tries to keep (0..15), not '" +
                     std::string(arg) + "'";
            return std::nullopt;
          }
          o.pin_guard = static_cast<unsigned>(number);
        }
        break;
      case kT0:
        t0_given = true;
        if (arg == "auto") {
          o.t0 = vscard::T0Translation::Auto;
        } else if (arg == "on") {
          o.t0 = vscard::T0Translation::On;
        } else if (arg == "off") {
          o.t0 = vscard::T0Translation::Off;
        } else {
          *error = "--t0 takes auto, on or off, not '" + std::string(arg) + "'";
          return std::nullopt;
        }
        break;
      case kNoShaping: o.shaping = false; break;
      case kRaw: o.raw = true; break;
      case '?':
      default: {
        std::string bad = optopt != 0 ? std::string("-") + static_cast<char>(optopt)
                                      : std::string(argv[optind - 1]);
        bool missing = optopt != 0 && std::string_view("ced").find(static_cast<char>(optopt)) !=
                                          std::string_view::npos;
        *error = missing ? "option " + bad + " needs a value" : "unknown option " + bad;
        return std::nullopt;
      }
    }
  }
  if (o.show_help || o.show_version) return o;
  if (o.list) {
    if (argc - optind != 0) {
      *error = "--list takes no HOST PORT";
      return std::nullopt;
    }
    return o;
  }

  int positional = argc - optind;
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
    o.host = argv[optind];
    o.port = argv[optind + 1];
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
    if (t0_given && o.t0 != vscard::T0Translation::Off) {
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
  std::string p = program;
  return "Usage: " + p + " [OPTION]... HOST PORT\n"
         "       " + p + " [OPTION]... --unix PATH\n"
         "       " + p + " --list [--pcsc=PATTERN] [--nss-db DIR]\n"
         "Feed smart cards to a VSCard host (QEMU's ccid-card-passthru, vschost).\n"
         "Compatible with libcacard's vscclient.\n"
         "\n"
         "Cards (without any of these options vscclient bridges the PC/SC readers if\n"
         "pcscd has one, else emulates a CAC from the certificates with keys in\n"
         "~/.pki/nssdb or /etc/pki/nssdb, else says what to add):\n"
         "  --list                 print the PC/SC readers (with ATRs), NSS tokens and\n"
         "                         certificates vscclient could offer, and exit\n"
         "  --soft-card            emulate a CAC from three self-signed certificates in an\n"
         "                         NSS database created once in $XDG_CACHE_HOME/vscard/soft-card\n"
         "  -c, --cert NAME        emulate a CAC holding the certificate NAME (repeatable;\n"
         "                         with its private key) from the NSS database\n"
         "  --nss-db DIR           the NSS database (default /etc/pki/nssdb)\n"
         "  -e, --emul-args ARGS   libcacard emulator arguments, e.g.\n"
         "                         'db=\"sql:DIR\" use_hw=yes' (see below)\n"
         "  --pcsc[=PATTERN]       bridge the cards of local PC/SC readers as raw APDUs: every\n"
         "                         reader, or those whose name contains PATTERN (a glob\n"
         "                         if it holds * or ?); see docs/pcsc.md\n"
         "  --exclusive            with --pcsc: open cards exclusively (default: shared)\n"
         "  --pcsc-reset           with --pcsc: the host's power off / reset requests reset\n"
         "                         the real card (SCardReconnect); default: logged, ignored\n"
         "  -p                     like libcacard's vscclient: the card in the first PC/SC\n"
         "                         reader (with --pcsc=PATTERN: the first that matches)\n"
         "  --vicc[=[ADDR:]PORT]   take cards from vpcd card programs (vsmartcard's vicc,\n"
         "                         jcardsim...) connecting to ADDR:PORT (default\n"
         "                         127.0.0.1:35963, vpcd's port; IPv6 as [::1]:PORT; 0: a\n"
         "                         free port, named in the log), no\n"
         "                         pcscd needed; readers \"vicc 0\", \"vicc 1\"...; see docs/vicc.md\n"
         "  --vicc-connect=HOST:PORT  connect to a card program started with vicc -R\n"
         "                         (reversed mode), retrying while it is not there\n"
         "                         (repeatable; reader \"vicc HOST:PORT\")\n"
         "  --vicc-timeout=SECONDS how long a vicc card may take to answer before the host\n"
         "                         gets an error and the card is dropped (default 30)\n"
         "\n"
         "Connection:\n"
         "  HOST PORT              TCP host (name, IPv4 or IPv6 literal) and port\n"
         "  --unix PATH            a Unix socket instead of HOST PORT\n"
         "  --tls-creds DIR        TLS with ca-cert.pem [client-cert.pem client-key.pem]\n"
         "                         from DIR (QEMU's tls-creds-x509 layout)\n"
         "  --tls-hostname NAME    the name the host's certificate must carry\n"
         "  --keepalive I,N,C      TCP keepalive: idle seconds, interval seconds, probes\n"
         "  --reconnect[=MAX]      reconnect with backoff when the host goes away, waiting\n"
         "                         at most MAX seconds between attempts (default: on, 30)\n"
         "  --no-reconnect         one attempt: exit 5 if the host cannot be reached (like\n"
         "                         libcacard's vscclient); exit when the session ends\n"
         "  --once                 connect (retrying until the host listens), serve one\n"
         "                         session, exit when it ends (for CI with vschost --once)\n"
         "\n"
         "Presentation to the host (see docs/t0-presentation.md):\n"
         "  --t0=auto|on|off       present the card as a T=0 card, translating the host's\n"
         "                         T=0 commands (QEMU's reader speaks only T=0): for\n"
         "                         cards whose ATR offers no T=0 (auto, the default),\n"
         "                         for every card (on), or never (off)\n"
         "  --no-shaping           hand responses to the host at any size (default: split\n"
         "                         those QEMU's reader loses, 54 bytes and over 374, with\n"
         "                         61xx and GET RESPONSE)\n"
         "  --raw                  pass ATR, commands and responses unchanged\n"
         "                         (--t0=off --no-shaping)\n"
         "\n"
         "Card safety:\n"
         "  --pin-guard[=N]        once the card says N (default 1) or fewer PIN tries are\n"
         "                         left, answer the host's VERIFY for that PIN with 6983\n"
         "                         instead of passing it on, until you type allow-pin\n"
         "                         (see docs/security.md)\n"
         "\n"
         "Logging:\n"
         "  -v, --verbose          more log output (repeatable)\n"
         "  -d, --debug LEVEL      log level (0 quiet, 1 debug, 2 and more: libcacard too)\n"
         "  --trace[=unredacted]   log every APDU; PINs (VERIFY, CHANGE REFERENCE DATA,\n"
         "                         RESET RETRY COUNTER) are redacted unless =unredacted\n"
         "  --version              print the version and exit\n"
         "  -h, --help             print this help and exit\n"
         "\n"
         "Commands on standard input: insert [ID], remove [ID], select ID, list,\n"
         "debug [LEVEL], allow-pin (with --pin-guard), exit (removes cards and readers\n"
         "from the host first).\n"
         "\n"
         "libcacard emulator arguments (-e): db=\"DIR\", use_hw=yes|no|removable,\n"
         "hw_type=CAC, hw_params=..., nssemul, passthru,\n"
         "soft=(SLOT,READER_NAME,CAC,PARAMS,CERT1,CERT2,...)\n"
         "\n"
         "Exit status: 0 ok (with --once or --no-reconnect: the host ended the session\n"
         "cleanly), 1 card or database error, or a session that broke, 4 usage error,\n"
         "5 cannot connect, or a certificate refused by either side (never retried).\n";
}

}  // namespace vscclient
