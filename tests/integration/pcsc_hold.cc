// SPDX-License-Identifier: LGPL-2.1-or-later
// pcsc_hold: an application session of a known length, for test_card_control's
// reader in-use events (opensc-tool's sessions are too short to be sure a
// 100 ms poll sees them).
//
// Usage: pcsc_hold READER shared|exclusive MILLISECONDS
// Connects to READER's card with that share mode, prints "connected", keeps
// the handle MILLISECONDS, disconnects leaving the card as it is, prints
// "released". Exit status 0, or 1 with the PC/SC error on stderr.
#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

int fail(const char* what, LONG rv) {
  std::fprintf(stderr, "pcsc_hold: %s: %s\n", what, pcsc_stringify_error(rv));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: pcsc_hold READER shared|exclusive MILLISECONDS\n");
    return 2;
  }
  const std::string mode = argv[2];
  if (mode != "shared" && mode != "exclusive") {
    std::fprintf(stderr, "pcsc_hold: share mode is shared or exclusive\n");
    return 2;
  }
  const DWORD share = mode == "exclusive" ? SCARD_SHARE_EXCLUSIVE : SCARD_SHARE_SHARED;
  const long milliseconds = std::strtol(argv[3], nullptr, 10);
  SCARDCONTEXT context = 0;
  if (LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &context);
      rv != SCARD_S_SUCCESS) {
    return fail("SCardEstablishContext", rv);
  }
  SCARDHANDLE card = 0;
  DWORD protocol = 0;
  if (LONG rv = SCardConnect(context, argv[1], share, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                             &card, &protocol);
      rv != SCARD_S_SUCCESS) {
    SCardReleaseContext(context);
    return fail("SCardConnect", rv);
  }
  std::printf("connected\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
  const LONG rv = SCardDisconnect(card, SCARD_LEAVE_CARD);
  SCardReleaseContext(context);
  if (rv != SCARD_S_SUCCESS) return fail("SCardDisconnect", rv);
  std::printf("released\n");
  return 0;
}
