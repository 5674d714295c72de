// SPDX-License-Identifier: LGPL-2.1-or-later
// Helpers shared by the round-trip benchmark programs (tests/bench/README.md):
// a monotonic clock, latency statistics, /proc readings and a tiny JSON writer.
// Header-only: each program is one .cc file plus this.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

inline std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// Latency samples in nanoseconds. Reserve before the timed loop so that
// recording a sample never allocates.
struct Latencies {
  std::vector<std::uint64_t> ns;

  void reserve(std::size_t n) { ns.reserve(n); }
  void add(std::uint64_t v) { ns.push_back(v); }
  // Nearest-rank percentile (q in [0,1]) in microseconds; sorts in place.
  double percentile_us(double q) {
    if (ns.empty()) return 0;
    std::sort(ns.begin(), ns.end());
    std::size_t rank = static_cast<std::size_t>(q * static_cast<double>(ns.size()));
    if (rank >= ns.size()) rank = ns.size() - 1;
    return static_cast<double>(ns[rank]) / 1000.0;
  }
  double mean_us() const {
    if (ns.empty()) return 0;
    long double sum = 0;
    for (auto v : ns) sum += v;
    return static_cast<double>(sum / ns.size() / 1000.0L);
  }
};

// utime + stime of a process (all its threads, dead ones included), in seconds.
inline double process_cpu_seconds(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  // After "(comm) ": state is field 3; utime and stime are fields 14 and 15.
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The number after "KEY:" in a /proc status file (VmRSS, VmHWM in KiB,
// Threads, voluntary_ctxt_switches); -1 if unreadable.
inline long status_field(const std::string& path, std::string_view key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() &&
        line[key.size()] == ':') {
      return std::stol(line.substr(key.size() + 1));
    }
  }
  return -1;
}

// A field of /proc/PID/status (pid 0: this process); VmRSS and VmHWM are KiB.
inline long proc_status_kib(long pid, std::string_view key) {
  return status_field(pid == 0 ? std::string("/proc/self/status")
                               : "/proc/" + std::to_string(pid) + "/status",
                      key);
}

// Blocking helpers: whole buffers or failure.
inline bool write_all(int fd, const std::uint8_t* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}
inline bool read_all(int fd, std::uint8_t* data, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::recv(fd, data, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    data += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// A flat JSON object written field by field: {"a": 1, "b": "x"}.
class JsonObject {
 public:
  JsonObject& num(std::string_view key, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return raw(key, buf);
  }
  JsonObject& integer(std::string_view key, long long v) { return raw(key, std::to_string(v)); }
  JsonObject& str(std::string_view key, std::string_view v) {
    std::string quoted = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') quoted += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) quoted += c;
    }
    return raw(key, quoted + "\"");
  }
  JsonObject& raw(std::string_view key, std::string_view json) {
    body_ += body_.empty() ? "" : ", ";
    body_ += "\"";
    body_ += key;
    body_ += "\": ";
    body_ += json;
    return *this;
  }
  // Latency summary of `lat` under "<prefix>_p50_us" etc.
  JsonObject& latencies(std::string_view prefix, Latencies& lat) {
    std::string p(prefix);
    num(p + "_mean_us", lat.mean_us());
    num(p + "_p50_us", lat.percentile_us(0.50));
    num(p + "_p99_us", lat.percentile_us(0.99));
    num(p + "_p999_us", lat.percentile_us(0.999));
    num(p + "_max_us", lat.ns.empty() ? 0 : static_cast<double>(lat.ns.back()) / 1000.0);
    return *this;
  }
  std::string text() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

}  // namespace bench
