// SPDX-License-Identifier: LGPL-2.1-or-later
// Console: the stdin command line of libcacard's vscclient (commands.h parses
// it) -- reads lines from standard input on the main loop, runs each against
// the Bridge's readers and prints the anchor's answers on stdout. End of input
// leaves vscclient serving its cards (e.g. started with </dev/null).
#pragma once

#include <functional>

#include "bridge.h"
#include "stdin_lines.h"
#include "vscard/protocol.h"

namespace vscclient {

class Console {
 public:
  // `exit_requested` runs for the `exit` command. `pin_guard`: --pin-guard is
  // on (allow-pin has something to release).
  Console(Bridge& bridge, bool pin_guard, std::function<void()> exit_requested);
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // Prints the prompt on a terminal and starts reading.
  void start();
  // No more commands (the exit sequence has begun).
  void stop();

 private:
  void run(const std::string& line);

  Bridge& bridge_;
  bool pin_guard_;
  std::function<void()> exit_requested_;
  vscard::ReaderId default_reader_ = 0;  // `select`; the anchor starts at 0
  bool stopped_ = false;  // no prompt once the exit sequence began
  programs::StdinLines lines_;
};

}  // namespace vscclient
