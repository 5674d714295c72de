// SPDX-License-Identifier: LGPL-2.1-or-later
// Console: the interactive commands read from stdin (list, send, flush,
// reconnect, quit), for a developer poking at a client by hand.
#pragma once

#include <functional>
#include <string>

#include "host_server.h"
#include "stdin_lines.h"

namespace vschost {

class Console {
 public:
  Console(HostServer& server, std::function<void()> on_quit);
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  void start();
  // One command line; public for tests. Output goes to stdout.
  void execute(const std::string& line);

 private:
  // "3" (the first client with reader 3) or "2:3" (client 2, reader 3).
  bool parse_reader(const std::string& text, ReaderRef& ref);

  HostServer& server_;
  std::function<void()> on_quit_;
  programs::StdinLines lines_;
};

}  // namespace vschost
