// SPDX-License-Identifier: LGPL-2.1-or-later
// Why vscclient ends, and the exit status each cause maps to. The status is
// chosen from the cause, never from a message's text. 4 and 5 keep the
// meaning they have in libcacard's vscclient (usage error, cannot connect).
#pragma once

namespace vscclient {

enum class ExitCause {
  Done,              // `exit` on stdin, SIGINT or SIGTERM
  HostEndedSession,  // --once / --no-reconnect: the host ended the session in order
  SessionBroke,      // --once / --no-reconnect: the connection broke, or ended before the handshake
  SetupFailed,       // card source, card database, TLS credentials
  Usage,             // the command line
  CannotConnect,     // the host cannot be reached (--no-reconnect)
  Refused,           // a refusal retrying cannot fix: the host's certificate or ours
};

inline constexpr int exit_status(ExitCause cause) {
  switch (cause) {
    case ExitCause::Done:
    case ExitCause::HostEndedSession: return 0;
    case ExitCause::SessionBroke:
    case ExitCause::SetupFailed: return 1;
    case ExitCause::Usage: return 4;
    case ExitCause::CannotConnect:
    case ExitCause::Refused: return 5;
  }
  return 1;
}

}  // namespace vscclient
