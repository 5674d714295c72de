// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient's command line: libcacard vscclient's options (the anchor:
// `vscclient [-e EMUL_ARGS] [-c CERTNAME]... [-d LEVEL] [-p] HOST PORT`) plus
// GNU long options, parsed with GOption (program_common/command_line.h).
// `--help` is built from the same entries.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "vscard/address.h"
#include "vscard/keepalive.h"
#include "vscard/t0_presenter.h"

namespace vscclient {

struct Options {
  // Anchor options.
  std::optional<std::string> emul_args;   // -e
  std::vector<std::string> cert_names;    // -c / --cert (repeatable)
  int debug_level = 0;                    // -d LEVEL; -v adds 1 per use
  bool compare_pcsc = false;              // -p (anchor: compare with a real card)
  // Long options.
  bool soft_card = false;                 // --soft-card
  std::optional<std::string> pcsc;        // --pcsc[=PATTERN] (empty: every reader)
  bool exclusive = false;                 // --exclusive (with --pcsc or -p)
  bool pcsc_reset = false;                // --pcsc-reset (with --pcsc or -p)
  // vpcd-speaking card programs (vicc_source.h, docs/vicc.md).
  std::optional<vscard::Address> vicc;           // --vicc[=[ADDR:]PORT]
  std::vector<vscard::Address> vicc_connect;     // --vicc-connect=HOST:PORT (repeatable)
  std::chrono::milliseconds vicc_timeout{30000}; // --vicc-timeout=SECONDS
  std::optional<std::string> nss_db;      // --nss-db DIR
  std::optional<std::string> tls_creds;   // --tls-creds DIR
  std::optional<std::string> tls_hostname;
  std::optional<vscard::Keepalive> keepalive;  // --keepalive IDLE,INTERVAL,COUNT
  bool reconnect = true;                  // --no-reconnect clears it
  // --once: connect (retrying while the host is not there yet), serve one
  // session, exit when it ends: 0 if the host ended it cleanly.
  bool once = false;
  std::chrono::milliseconds reconnect_max_delay{30000};  // --reconnect=SECONDS
  std::optional<std::string> unix_path;   // --unix PATH
  bool trace = false;                     // --trace
  bool trace_unredacted = false;          // --trace=unredacted
  // --pin-guard[=N]: refuse VERIFY locally at N or fewer PIN tries left (pin_guard.h).
  std::optional<unsigned> pin_guard;
  // How cards are presented to the host (docs/t0-presentation.md): --t0=auto|on|off,
  // --no-shaping, --raw (both off).
  vscard::T0Translation t0 = vscard::T0Translation::Auto;
  bool shaping = true;
  bool raw = false;
  // Positional.
  std::string host, port;
  // Where to connect: HOST PORT or --unix PATH, checked.
  vscard::Address address;

  bool show_help = false;
  bool show_version = false;
  bool list = false;  // --list: print the readers, tokens and certificates, exit

  // No option names a card source: vscclient picks one (card_sources.h).
  bool card_source_given() const {
    return soft_card || pcsc || compare_pcsc || vicc || !vicc_connect.empty() || emul_args ||
           !cert_names.empty() || nss_db;
  }
};

// Parses and checks argv: every option alone and every combination, the
// address and the keepalive settings -- the one place options are validated.
// On a usage error returns nullopt with `error` set to one line (the caller
// prints it and the usage hint and exits with ExitCause::Usage).
std::optional<Options> parse_options(int argc, char** argv, std::string* error);

// The libcacard emulator string the options ask for (-e, -c, --nss-db), or
// nullopt when --soft-card decides it (see soft_card.h). Empty: libcacard's
// defaults (db /etc/pki/nssdb, use_hw=yes).
std::string emul_args_for(const Options& options);

// The --help text.
std::string usage_text(const char* program);

}  // namespace vscclient
