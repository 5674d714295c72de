// SPDX-License-Identifier: LGPL-2.1-or-later
// vscclient/commands.cc: libcacard vscclient's stdin commands.
#include "commands.h"

#include <gtest/gtest.h>

namespace vscclient {
namespace {

using Kind = Command::Kind;

TEST(Commands, Words) {
  EXPECT_EQ(parse_command("insert\n").kind, Kind::Insert);
  EXPECT_EQ(parse_command("remove").kind, Kind::Remove);
  EXPECT_EQ(parse_command("select 2").kind, Kind::Select);
  EXPECT_EQ(parse_command("list\r\n").kind, Kind::List);
  EXPECT_EQ(parse_command("debug").kind, Kind::Debug);
  EXPECT_EQ(parse_command("exit").kind, Kind::Exit);
  EXPECT_EQ(parse_command("\n").kind, Kind::Empty);
  EXPECT_EQ(parse_command("help").kind, Kind::Unknown);
  // The anchor compares prefixes (strncmp).
  EXPECT_EQ(parse_command("exitnow").kind, Kind::Exit);
}

TEST(Commands, AllowPin) {
  EXPECT_EQ(parse_command("allow-pin\n").kind, Kind::AllowPin);
  EXPECT_EQ(parse_command("allow").kind, Kind::Unknown);
}

TEST(Commands, ArgumentsLikeGetIdFromString) {
  EXPECT_EQ(parse_command("insert 3\n").argument, 3u);
  EXPECT_EQ(parse_command("remove 12abc").argument, 12u);
  EXPECT_FALSE(parse_command("insert").argument);
  EXPECT_FALSE(parse_command("insert x").argument);
  EXPECT_FALSE(parse_command("insert3").argument);  // needs the space
  EXPECT_EQ(parse_command("debug 0").argument, 0u);
  EXPECT_FALSE(parse_command("select 99999999999").argument);
}

}  // namespace
}  // namespace vscclient
