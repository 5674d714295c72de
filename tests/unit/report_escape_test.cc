// SPDX-License-Identifier: LGPL-2.1-or-later
// Peer text in every report format (issue 18): a reader name or client error
// carrying line breaks, terminal escapes, C1 controls and invalid UTF-8 can
// neither forge a line (a summary, a TAP result) nor reach the terminal raw.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "json_line.h"
#include "report.h"

namespace vschost {
namespace {

const std::string kHostile =
    "R\n1 run, 1 steps: 1 passed, 0 failed, 0 not run\nok 2 - forged\r\x1B[2J\x1B]0;t\x07"
    "\xC2\x9B" "31m\xFF\xC0\xAF</failure><x a=\"'\"/>\\";

// No byte a terminal acts on except the line breaks the format itself writes,
// and no line of `text` comes from the hostile name.
void expect_no_forgery(const std::string& text, const std::string& format) {
  for (unsigned char c : text) {
    EXPECT_FALSE((c < 0x20 && c != '\n') || c == 0x7F) << format << ": raw byte " << int(c);
  }
  EXPECT_EQ(text.find("\xC2\x9B"), std::string::npos) << format;
  EXPECT_EQ(text.find('\xFF'), std::string::npos) << format;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    EXPECT_FALSE(line.starts_with("1 run, 1 steps")) << format << ": forged line " << line;
    EXPECT_FALSE(line.starts_with("ok 2 - forged")) << format << ": forged line " << line;
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

struct ReportEscape : ::testing::Test {
  Step step;
  StepResult failed, passed;
  std::vector<RunReport> runs;
  void SetUp() override {
    step.line = 3;
    step.text = "wait-card \"" + kHostile + "\"";
    failed.step = &step;
    failed.status = StepResult::Status::Failed;
    failed.detail = "reader 0 \"" + kHostile + "\": client error " + kHostile;
    failed.response = {0x90, 0x00};
    passed = failed;
    passed.status = StepResult::Status::Passed;
    StepResult skipped = failed;
    skipped.status = StepResult::Status::NotRun;
    runs = {{"client 1 (" + kHostile + ")", {passed, failed, skipped}},
            {"client 2", {passed}}};
  }
};

TEST_F(ReportEscape, TextLines) {
  expect_no_forgery(step_line(failed) + "\n" + step_line(passed) + "\n", "text");
}

TEST_F(ReportEscape, Tap) { expect_no_forgery(tap_document(runs), "tap"); }

TEST_F(ReportEscape, Junit) {
  std::string xml = junit_document(runs, kHostile);
  expect_no_forgery(xml, "junit");
  EXPECT_EQ(xml.find("</failure><x"), std::string::npos);
  EXPECT_EQ(xml.find("a=\"'\""), std::string::npos);
}

TEST_F(ReportEscape, JsonLinesAndEventFields) {
  std::string json = json_step(failed, runs[0].client) + "\n" +
                     JsonLine().str("event", "reader_added").str("name", kHostile).done() + "\n";
  expect_no_forgery(json, "json");
  // The value is the printable form: an escaped ESC reads "\x1b" once decoded.
  EXPECT_NE(json.find("\\\\x1b[2J"), std::string::npos) << json;
}

// The streaming reporter: human lines and the TAP stream as a terminal gets them.
TEST_F(ReportEscape, StreamingReporterHumanAndTap) {
  std::FILE* out = std::tmpfile();
  std::FILE* human = std::tmpfile();
  ASSERT_TRUE(out && human);
  ReportOptions options;
  options.format = ReportOptions::Format::Tap;
  Reporter reporter(options, kHostile, 3, false, out, human);
  reporter.begin();
  for (const auto& s : runs[0].steps) reporter.step(runs[0].client, s);
  reporter.run_done(runs[0]);
  std::string error;
  reporter.finish(error);
  auto slurp = [](std::FILE* f) {
    std::string text;
    std::rewind(f);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    return text;
  };
  std::string human_text = slurp(human);
  expect_no_forgery(slurp(out), "tap stream");
  expect_no_forgery(human_text, "human");
  // The real summary is there, once.
  EXPECT_NE(human_text.find("\n1 run, 3 steps: 1 passed, 1 failed, 1 not run\n"), std::string::npos)
      << human_text;
}

}  // namespace
}  // namespace vschost
