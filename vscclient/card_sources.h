// SPDX-License-Identifier: LGPL-2.1-or-later
// Which card source the command line asks for: --vicc/--vicc-connect (vpcd
// card programs), --pcsc/-p (PC/SC readers), --soft-card, or libcacard with
// -e/-c/--nss-db. The options are already checked (options.h): at most one
// kind of source is asked for. With none, the most useful one here, said in
// one line: the PC/SC readers if pcscd has any, else a CAC emulated from the
// certificates with keys in the usual NSS databases, else an error naming the
// options to add (a client with no card does not connect silently).
#pragma once

#include <memory>
#include <string>

#include "card_source.h"
#include "options.h"

namespace vscclient {

// The source, not started; nullptr with `error` set (one line) when it cannot
// be made (e.g. the soft card's database cannot be created).
std::unique_ptr<CardSource> make_card_source(const Options& options, std::string* error);

// `vscclient --list`: what the sources could offer, on stdout. Returns the exit status.
int print_inventory(const Options& options);

}  // namespace vscclient
