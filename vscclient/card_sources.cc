// SPDX-License-Identifier: LGPL-2.1-or-later
// Choosing the card source (see card_sources.h).
#include "card_sources.h"

#include <glib.h>

#include <utility>

#include "cacard_source.h"
#include "emul_args.h"
#include "pcsc_source.h"
#include "soft_card.h"
#include "vicc_source.h"

namespace vscclient {

std::unique_ptr<CardSource> make_card_source(const Options& options, std::string* error) {
  if (options.vicc || !options.vicc_connect.empty()) {
    // --vicc / --vicc-connect: vpcd card programs, no pcscd (docs/vicc.md).
    ViccSource::Options vicc;
    vicc.listen = options.vicc;
    vicc.connect = options.vicc_connect;
    vicc.timeout = options.vicc_timeout;
    return std::make_unique<ViccSource>(std::move(vicc));
  }
  if (options.pcsc || options.compare_pcsc) {
    // --pcsc: raw APDUs to local PC/SC readers (docs/pcsc.md); -p keeps the
    // anchor's meaning, the card in the first reader.
    PcscSource::Options pcsc;
    pcsc.pattern = options.pcsc.value_or("");
    pcsc.exclusive = options.exclusive;
    pcsc.reset_card = options.pcsc_reset;
    pcsc.first_reader_only = options.compare_pcsc;
    return std::make_unique<PcscSource>(std::move(pcsc));
  }
  if (options.soft_card) {
    auto card = ensure_soft_card(default_soft_card_dir(), error);
    if (!card) {
      *error = "--soft-card: " + *error;
      return nullptr;
    }
    g_debug("soft card database: %s", card->db_dir.c_str());
    // use_hw=no: the soft card only, no PKCS#11 modules scanned for tokens.
    return std::make_unique<CacardSource>(
        "use_hw=no " + build_soft_emul_args(db_emul_arg("sql:" + card->db_dir), card->nicknames));
  }
  return std::make_unique<CacardSource>(emul_args_for(options));
}

}  // namespace vscclient
