// SPDX-License-Identifier: LGPL-2.1-or-later
// pcsc_probe: drives vscclient's PC/SC layer (PcscMonitor + PcscReaderWorker)
// from stdin and reports its events on stdout, so test_pcsc_layer.py can check
// it against the real pcscd, vpcd and vicc without a VSCard host.
//
// Usage: pcsc_probe [--pattern P] [--exclusive] [--first]
// stdin:  "apdu HEX READER NAME"  -> "response READER NAME|HEX" or "error READER NAME|TEXT"
//         "quit"
// stdout: "reader_added NAME", "reader_removed NAME", "card_inserted NAME|ATRHEX",
//         "card_removed NAME", "service_lost REASON", "service_back",
//         "no_matching_reader", "ready"
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "pcsc_monitor.h"
#include "pcsc_reader_worker.h"
#include "vscard/apdu.h"

namespace {

std::mutex out_mutex;

void say(const std::string& line) {
  std::lock_guard lock(out_mutex);
  std::cout << line << std::endl;
}

class Probe : public vscclient::PcscMonitorEvents {
 public:
  explicit Probe(bool exclusive) : exclusive_(exclusive) {}
  void reader_added(const std::string& name) override {
    {
      std::lock_guard lock(mutex_);
      workers_[name] = std::make_shared<vscclient::PcscReaderWorker>(name, exclusive_);
    }
    say("reader_added " + name);
  }
  void reader_removed(const std::string& name) override {
    {
      std::lock_guard lock(mutex_);
      workers_.erase(name);
    }
    say("reader_removed " + name);
  }
  void card_inserted(const std::string& name, std::vector<std::uint8_t> atr) override {
    if (auto w = worker(name)) w->card_changed(true);
    say("card_inserted " + name + "|" + vscard::to_hex(atr));
  }
  void card_removed(const std::string& name) override {
    if (auto w = worker(name)) w->card_changed(false);
    say("card_removed " + name);
  }
  void service_lost(const std::string& reason) override { say("service_lost " + reason); }
  void service_back() override { say("service_back"); }
  void no_matching_reader(const std::vector<std::string>&) override { say("no_matching_reader"); }

  std::shared_ptr<vscclient::PcscReaderWorker> worker(const std::string& name) {
    std::lock_guard lock(mutex_);
    auto it = workers_.find(name);
    return it == workers_.end() ? nullptr : it->second;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    workers_.clear();
  }

 private:
  bool exclusive_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<vscclient::PcscReaderWorker>> workers_;
};

}  // namespace

int main(int argc, char** argv) {
  vscclient::PcscMonitor::Options options;
  bool exclusive = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--pattern" && i + 1 < argc) options.pattern = vscclient::ReaderPattern(argv[++i]);
    else if (arg == "--exclusive") exclusive = true;
    else if (arg == "--first") options.first_reader_only = true;
  }
  Probe probe(exclusive);
  vscclient::PcscMonitor monitor(options, probe);
  say("ready");
  monitor.start();
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "quit") break;
    if (line.rfind("apdu ", 0) != 0) continue;
    auto space = line.find(' ', 5);
    if (space == std::string::npos) continue;
    auto apdu = vscard::from_hex(line.substr(5, space - 5));
    std::string name = line.substr(space + 1);
    auto worker = probe.worker(name);
    if (!apdu || !worker) {
      say("error " + name + "|no such reader or bad hex");
      continue;
    }
    worker->transmit(*apdu, 65536 + 2, [name](vscclient::PcscTransmitResult r) {
      say(r.ok ? "response " + name + "|" + vscard::to_hex(r.response)
               : "error " + name + "|" + r.error);
    });
  }
  monitor.stop();
  probe.clear();
  return 0;
}
