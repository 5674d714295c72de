// SPDX-License-Identifier: LGPL-2.1-or-later
// Script results as text lines, TAP, JUnit XML or JSON lines (--report).
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "script_runner.h"

namespace vschost {

struct ReportOptions {
  enum class Format { Text, Tap, Json };
  Format format = Format::Text;          // what stdout carries
  std::vector<std::string> junit_paths;  // JUnit XML files, written at the end
  bool log_pins = false;                 // --log-pins: PIN commands unredacted in JSON steps
};

// Adds one --report value ("text", "tap", "json" or "junit:PATH") to `into`.
// False and `error` set for anything else, or for a second stdout format.
bool add_report_option(std::string_view text, ReportOptions& into, std::string& error);

// One script run: the steps of one client connection.
struct RunReport {
  std::string client;  // "client 1 (127.0.0.1:40112)"
  std::vector<StepResult> steps;
};

// "ok    line 3  send 00A4... (12 ms)" / "FAIL  line 4  expect 9000 (0 ms): status word is 6A82"
std::string step_line(const StepResult& result);
// "3 steps: 2 passed, 1 failed, 0 not run"
std::string summary_line(const std::vector<RunReport>& runs);

// Whole documents, for tests and for the end of a run.
std::string tap_document(const std::vector<RunReport>& runs);
std::string junit_document(const std::vector<RunReport>& runs, std::string_view suite_name);
// One JSON object (no newline) for a finished step. A PIN-bearing command is
// redacted (vscard::format_command_for_log) unless `log_pins`.
std::string json_step(const StepResult& result, std::string_view client, bool log_pins = false);

// Streams results while clients run and writes the end-of-run documents.
// Text lines go to `human` (stdout, or stderr when stdout carries TAP/JSON).
class Reporter {
 public:
  Reporter(ReportOptions options, std::string script_name, std::size_t steps_per_run,
           bool plan_first, std::FILE* out, std::FILE* human);
  // Opens the JUnit files now, before any client is served, so that a path that
  // cannot be written fails the run at once. False and `error` (with the OS's
  // reason) if one cannot be opened.
  bool open(std::string& error);
  void begin();  // TAP: the plan, when known in advance
  void step(std::string_view client, const StepResult& result);
  void run_done(RunReport run);
  // Summary, TAP plan (if not given first), JUnit files. False (and `error`) if a
  // JUnit file cannot be written.
  bool finish(std::string& error);
  const std::vector<RunReport>& runs() const { return runs_; }
  bool all_passed() const;

 private:
  ReportOptions options_;
  std::string script_name_;
  std::size_t steps_per_run_;
  bool plan_first_;
  std::FILE* out_;
  std::FILE* human_;
  std::size_t tap_number_ = 0;
  std::vector<RunReport> runs_;
  struct FileClose {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::vector<std::pair<std::string, std::unique_ptr<std::FILE, FileClose>>> junit_files_;
};

}  // namespace vschost
