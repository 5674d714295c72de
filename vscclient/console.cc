// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient's stdin command line (see console.h).
#include "console.h"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <utility>

#include "commands.h"
#include "log.h"
#include "vscard/printable.h"

namespace vscclient {

Console::Console(Bridge& bridge, bool pin_guard, std::function<void()> exit_requested)
    : bridge_(bridge),
      pin_guard_(pin_guard),
      exit_requested_(std::move(exit_requested)),
      lines_([this](const std::string& line) { run(line); }) {}

void Console::start() {
  // End of input keeps vscclient serving the card (e.g. started with </dev/null).
  lines_.start();
  if (isatty(STDIN_FILENO)) {
    std::fputs("> ", stdout);
    std::fflush(stdout);
  }
}

void Console::stop() {
  stopped_ = true;
  lines_.stop();
}

void Console::run(const std::string& line) {
  Command c = parse_command(line);
  auto print = [](const std::string& text) { std::fputs(text.c_str(), stdout); };
  switch (c.kind) {
    case Command::Kind::Empty:
      break;
    case Command::Kind::Exit:
      exit_requested_();
      break;
    case Command::Kind::Insert:
    case Command::Kind::Remove: {
      bool insert = c.kind == Command::Kind::Insert;
      vscard::ReaderId id = c.argument.value_or(default_reader_);
      auto reader = bridge_.find_by_host_id(id);
      if (!reader) {
        std::printf("no reader by id %u found\n", id);
        break;
      }
      std::string error;
      bool ok = insert ? reader->source->force_insert(reader->source_id, &error)
                       : reader->source->force_remove(reader->source_id, &error);
      // The anchor prints libcacard's VCardEmulError: 0 ok, 1 failed.
      std::printf("%s %s, returned %d%s%s\n", insert ? "insert" : "remove",
                  vscard::printable(reader->info->name).c_str(), ok ? 0 : 1, ok ? "" : ": ",
                  vscard::printable(error).c_str());
      break;
    }
    case Command::Kind::Select: {
      auto reader = c.argument ? bridge_.find_by_host_id(*c.argument) : std::nullopt;
      if (!reader) {
        std::printf("Reader with id %u not found\n", c.argument.value_or(vscard::kUndefinedReaderId));
        break;
      }
      std::printf("Selecting reader %u, %s\n", *c.argument,
                  vscard::printable(reader->info->name).c_str());
      default_reader_ = *c.argument;
      break;
    }
    case Command::Kind::Debug:
      if (c.argument) set_log_level(static_cast<int>(*c.argument));
      std::printf("debug level = %d\n", log_level());
      break;
    case Command::Kind::List: {
      using State = vscard::ClientSession::ReaderState;
      print("Active Readers:\n");
      for (const auto& r : bridge_.readers()) {
        if (r.info == nullptr || r.info->state != State::Active) continue;
        std::printf("%3u %s %s\n", r.info->id, r.info->card_present ? "CARD_PRESENT" : "            ",
                    vscard::printable(r.info->name).c_str());
      }
      print("Inactive Readers:\n");
      for (const auto& r : bridge_.readers()) {
        if (r.info == nullptr || r.info->state == State::Active) continue;
        std::printf("INA %s %s\n", r.info->card_present ? "CARD_PRESENT" : "            ",
                    vscard::printable(r.info->name).c_str());
      }
      break;
    }
    case Command::Kind::AllowPin:
      if (!pin_guard_) {
        print("allow-pin: the PIN guard is off (start vscclient with --pin-guard)\n");
      } else {
        std::printf("allow-pin: %zu PIN reference(s) released\n", bridge_.allow_pin());
      }
      break;
    case Command::Kind::Unknown:
      print(command_help());
      break;
  }
  if (isatty(STDIN_FILENO) && !stopped_) print("> ");
  std::fflush(stdout);
}

}  // namespace vscclient
