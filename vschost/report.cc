// SPDX-License-Identifier: LGPL-2.1-or-later
// Report formats. TAP: version 13 with a YAML block for failures
// (testanything.org/tap-version-13-specification). JUnit: the de-facto schema
// Jenkins and GitLab read: <testsuites><testsuite><testcase><failure|skipped>.
#include "report.h"

#include <cerrno>
#include <cstring>
#include <span>

#include "json_line.h"
#include "vscard/apdu.h"
#include "vscard/printable.h"

namespace vschost {
namespace {

const char* status_word(StepResult::Status s) {
  switch (s) {
    case StepResult::Status::Passed: return "passed";
    case StepResult::Status::Failed: return "failed";
    case StepResult::Status::NotRun: return "not run";
  }
  return "";
}

using vscard::printable;

// Every text that reaches a report (script text, client names, details that
// quote reader names or peer errors) passes printable() once, here or where
// the field is written; the format's own quoting comes on top.
//
// A send step whose APDU carries a PIN (VERIFY, CHANGE REFERENCE DATA, RESET
// RETRY COUNTER: vscard::carries_pin) is named by its header only: its source
// line holds the PIN, and reports are archived by CI (the JSON events redact
// the same commands unless --log-pins).
std::string step_text(const Step& step) {
  if (step.kind == Step::Kind::Send && !step.command.empty() && step.command[0].var.empty() &&
      step.command[0].bytes.size() >= 4 && vscard::carries_pin(step.command[0].bytes[1])) {
    const auto& b = step.command[0].bytes;
    return "send " + vscard::to_hex(std::span(b.data(), 4)) + " <PIN command: data redacted>";
  }
  return step.text;
}

std::string step_name(const StepResult& r) {
  return "line " + std::to_string(r.step->line) + ": " + printable(step_text(*r.step));
}

// TAP descriptions must not contain '#' (it starts a directive); printable()
// has already removed line breaks and controls.
std::string tap_safe(std::string_view text) {
  std::string s = printable(text);
  for (char& c : s) {
    if (c == '#') c = '_';
  }
  return s;
}

struct Counts {
  std::size_t total = 0, passed = 0, failed = 0, not_run = 0;
};

Counts count(const std::vector<RunReport>& runs) {
  Counts c;
  for (const auto& run : runs) {
    for (const auto& s : run.steps) {
      ++c.total;
      if (s.status == StepResult::Status::Passed) ++c.passed;
      if (s.status == StepResult::Status::Failed) ++c.failed;
      if (s.status == StepResult::Status::NotRun) ++c.not_run;
    }
  }
  return c;
}

std::string tap_entry(std::size_t n, const StepResult& r, std::string_view prefix) {
  std::string line = r.status == StepResult::Status::Passed ? "ok " : "not ok ";
  line += std::to_string(n) + " - " + tap_safe(std::string(prefix)) + tap_safe(step_name(r));
  if (r.status == StepResult::Status::NotRun) line += " # SKIP " + tap_safe(r.detail);
  line += "\n";
  if (r.status == StepResult::Status::Failed) {
    line += "  ---\n  message: " + json_quote(printable(r.detail)) + "\n";
    if (!r.response.empty()) line += "  response: \"" + vscard::to_hex(r.response) + "\"\n";
    line += "  duration_ms: " + std::to_string(r.elapsed.count()) + "\n  ...\n";
  }
  return line;
}

}  // namespace

bool add_report_option(std::string_view text, ReportOptions& into, std::string& error) {
  if (text.starts_with("junit:") && text.size() > 6) {
    into.junit_paths.emplace_back(text.substr(6));
    return true;
  }
  ReportOptions::Format format;
  if (text == "tap") {
    format = ReportOptions::Format::Tap;
  } else if (text == "json") {
    format = ReportOptions::Format::Json;
  } else if (text == "text") {
    format = ReportOptions::Format::Text;
  } else {
    error = "--report: expected tap, json or junit:PATH, got '" + printable(text) + "'";
    return false;
  }
  // Two machine formats on one stdout would interleave into neither.
  if (into.format != ReportOptions::Format::Text && into.format != format) {
    error = "--report: tap and json both write to stdout; give one of them (and any "
            "number of junit:PATH)";
    return false;
  }
  into.format = format;
  return true;
}

std::string step_line(const StepResult& r) {
  std::string s = r.status == StepResult::Status::Passed ? "ok    "
                  : r.status == StepResult::Status::Failed ? "FAIL  " : "skip  ";
  s += step_name(r) + " (" + std::to_string(r.elapsed.count()) + " ms)";
  if (!r.detail.empty()) s += ": " + printable(r.detail);
  if (r.status == StepResult::Status::Failed && !r.response.empty()) {
    s += " [response " + vscard::to_hex(r.response) + "]";
  }
  return s;
}

std::string summary_line(const std::vector<RunReport>& runs) {
  Counts c = count(runs);
  std::string s = std::to_string(runs.size()) + (runs.size() == 1 ? " run, " : " runs, ") +
                  std::to_string(c.total) + " steps: " + std::to_string(c.passed) +
                  " passed, " + std::to_string(c.failed) + " failed, " +
                  std::to_string(c.not_run) + " not run";
  return s;
}

std::string tap_document(const std::vector<RunReport>& runs) {
  std::string out = "TAP version 13\n1.." + std::to_string(count(runs).total) + "\n";
  std::size_t n = 0;
  for (const auto& run : runs) {
    for (const auto& s : run.steps) {
      out += tap_entry(++n, s, runs.size() > 1 ? run.client + ": " : "");
    }
  }
  return out;
}

std::string junit_document(const std::vector<RunReport>& runs, std::string_view suite_name) {
  Counts c = count(runs);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"vschost\" tests=\"" + std::to_string(c.total) + "\" failures=\"" +
         std::to_string(c.failed) + "\" skipped=\"" + std::to_string(c.not_run) + "\">\n";
  for (const auto& run : runs) {
    Counts rc = count({run});
    double seconds = 0;
    for (const auto& s : run.steps) seconds += static_cast<double>(s.elapsed.count()) / 1000.0;
    out += "  <testsuite name=\"" + xml_escape(printable(std::string(suite_name) + " " + run.client)) +
           "\" tests=\"" + std::to_string(rc.total) + "\" failures=\"" +
           std::to_string(rc.failed) + "\" errors=\"0\" skipped=\"" +
           std::to_string(rc.not_run) + "\" time=\"" + std::to_string(seconds) + "\">\n";
    for (const auto& s : run.steps) {
      out += "    <testcase classname=\"" + xml_escape(printable(suite_name)) + "\" name=\"" +
             xml_escape(step_name(s)) + "\" time=\"" +
             std::to_string(static_cast<double>(s.elapsed.count()) / 1000.0) + "\"";
      if (s.status == StepResult::Status::Passed) {
        out += "/>\n";
        continue;
      }
      out += ">\n";
      if (s.status == StepResult::Status::Failed) {
        out += "      <failure message=\"" + xml_escape(printable(s.detail)) + "\">" +
               xml_escape(s.response.empty() ? printable(s.detail)
                                             : printable(s.detail) + "\nresponse: " +
                                                   vscard::to_hex(s.response)) +
               "</failure>\n";
      } else {
        out += "      <skipped message=\"" + xml_escape(printable(s.detail)) + "\"/>\n";
      }
      out += "    </testcase>\n";
    }
    out += "  </testsuite>\n";
  }
  out += "</testsuites>\n";
  return out;
}

std::string json_step(const StepResult& r, std::string_view client, bool log_pins) {
  JsonLine j;
  j.str("event", "step").str("client", client).num("index", static_cast<std::int64_t>(r.index))
      .num("line", r.step->line).str("text", log_pins ? r.step->text : step_text(*r.step))
      .str("status", status_word(r.status)).num("duration_ms", r.elapsed.count());
  if (!r.detail.empty()) j.str("detail", r.detail);
  if (!r.command.empty()) {
    const bool redact = !log_pins && r.command.size() >= 2 && vscard::carries_pin(r.command[1]);
    j.str("command", redact ? vscard::format_command_for_log(r.command) : vscard::to_hex(r.command));
  }
  if (!r.response.empty()) j.str("response", vscard::to_hex(r.response));
  return j.done();
}

Reporter::Reporter(ReportOptions options, std::string script_name, std::size_t steps_per_run,
                   bool plan_first, std::FILE* out, std::FILE* human)
    : options_(std::move(options)), script_name_(std::move(script_name)),
      steps_per_run_(steps_per_run), plan_first_(plan_first), out_(out), human_(human) {}

bool Reporter::open(std::string& error) {
  for (const auto& path : options_.junit_paths) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) {
      error = "cannot write the JUnit report " + printable(path) + ": " + std::strerror(errno);
      return false;
    }
    junit_files_.emplace_back(path, f);
  }
  return true;
}

void Reporter::begin() {
  if (options_.format == ReportOptions::Format::Tap) {
    std::fputs("TAP version 13\n", out_);
    if (plan_first_) std::fprintf(out_, "1..%zu\n", steps_per_run_);
    std::fflush(out_);
  }
}

void Reporter::step(std::string_view client, const StepResult& result) {
  std::fprintf(human_, "%s%s\n", plan_first_ ? "" : (printable(client) + ": ").c_str(),
               step_line(result).c_str());
  std::fflush(human_);
  if (options_.format == ReportOptions::Format::Tap) {
    std::fputs(tap_entry(++tap_number_, result, plan_first_ ? "" : std::string(client) + ": ")
                   .c_str(),
               out_);
    std::fflush(out_);
  } else if (options_.format == ReportOptions::Format::Json) {
    std::fprintf(out_, "%s\n", json_step(result, client, options_.log_pins).c_str());
    std::fflush(out_);
  }
}

void Reporter::run_done(RunReport run) { runs_.push_back(std::move(run)); }

bool Reporter::all_passed() const {
  Counts c = count(runs_);
  return !runs_.empty() && c.failed == 0 && c.not_run == 0;
}

bool Reporter::finish(std::string& error) {
  std::fprintf(human_, "%s\n", summary_line(runs_).c_str());
  std::fflush(human_);
  if (options_.format == ReportOptions::Format::Tap && !plan_first_) {
    std::fprintf(out_, "1..%zu\n", tap_number_);
  } else if (options_.format == ReportOptions::Format::Tap && tap_number_ < steps_per_run_) {
    // No client ran the script to the end (or at all): the plan promised more.
    for (std::size_t n = tap_number_; n < steps_per_run_; ++n) {
      std::fprintf(out_, "not ok %zu - step %zu # no client ran it\n", n + 1, n + 1);
    }
  } else if (options_.format == ReportOptions::Format::Json) {
    Counts c = count(runs_);
    std::fprintf(out_, "%s\n",
                 JsonLine().str("event", "summary").num("runs", static_cast<std::int64_t>(runs_.size()))
                     .num("steps", static_cast<std::int64_t>(c.total))
                     .num("passed", static_cast<std::int64_t>(c.passed))
                     .num("failed", static_cast<std::int64_t>(c.failed))
                     .num("not_run", static_cast<std::int64_t>(c.not_run))
                     .boolean("ok", all_passed()).done().c_str());
  }
  std::fflush(out_);
  const std::string junit = junit_files_.empty() ? "" : junit_document(runs_, script_name_);
  for (auto& [path, file] : junit_files_) {
    bool ok = std::fputs(junit.c_str(), file.get()) >= 0 && std::fflush(file.get()) == 0;
    int saved = errno;
    if (std::fclose(file.release()) != 0 && ok) {
      ok = false;
      saved = errno;
    }
    if (!ok) {
      error = "cannot write the JUnit report " + printable(path) + ": " + std::strerror(saved);
      return false;
    }
  }
  junit_files_.clear();
  return true;
}

}  // namespace vschost
