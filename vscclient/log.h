// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient's log levels over GLib structured logging (DESIGN: -v/-d levels).
//   0: messages, warnings and errors
//   1: + debug from vscclient and libvscard ("vscclient", "vscard" domains)
//   2 and up: + debug from every domain, libcacard's included
// The level can change while running (stdin `debug N`).
#pragma once

#include <string>

namespace vscclient {

// "vscclient: TEXT" on stderr, TEXT escaped: the line a fatal error ends with.
void print_error(const std::string& text);

void install_log_writer(int level);
void set_log_level(int level);
int log_level();

}  // namespace vscclient
