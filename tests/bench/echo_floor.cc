// SPDX-License-Identifier: LGPL-2.1-or-later
// echo_floor: the floor every VSCard round trip stands on. Two processes on
// loopback TCP (TCP_NODELAY, blocking sockets): the parent sends a 12+N byte
// message (a VSCard header plus an N-byte command APDU), the child reads it
// whole and answers 12+M bytes (header plus response), the parent reads that
// whole. Nothing else happens per round trip, so no bridge can do better.
//
//   echo_floor --request N --response M --count C [--warmup W]
//
// Prints one JSON object (tests/bench/README.md explains the fields).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.h"

namespace {

constexpr std::size_t kHeader = 12;

void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "echo_floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// The child: answer every request until the parent closes.
[[noreturn]] void serve(int listener, std::size_t request, std::size_t response) {
  int fd = accept(listener, nullptr, nullptr);
  if (fd < 0) die("accept");
  nodelay(fd);
  std::vector<std::uint8_t> in(kHeader + request), out(kHeader + response, 0x90);
  while (bench::read_all(fd, in.data(), in.size())) {
    if (!bench::write_all(fd, out.data(), out.size())) break;
  }
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t request = 12, response = 2, count = 20000, warmup = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string opt = argv[i];
    std::size_t v = std::strtoul(argv[i + 1], nullptr, 10);
    if (opt == "--request") request = v;
    else if (opt == "--response") response = v;
    else if (opt == "--count") count = v;
    else if (opt == "--warmup") warmup = v;
    else {
      std::fprintf(stderr, "usage: echo_floor [--request N] [--response M] [--count C] [--warmup W]\n");
      return 2;
    }
  }

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 1) != 0) {
    die("listen on 127.0.0.1");
  }
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) serve(listener, request, response);
  close(listener);

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    die("connect");
  }
  nodelay(fd);
  std::vector<std::uint8_t> out(kHeader + request, 0x00), in(kHeader + response);
  auto round_trip = [&] {
    if (!bench::write_all(fd, out.data(), out.size()) ||
        !bench::read_all(fd, in.data(), in.size())) {
      die("echo round trip");
    }
  };
  for (std::size_t i = 0; i < warmup; ++i) round_trip();

  bench::Latencies lat;
  lat.reserve(count);
  double child_cpu0 = bench::process_cpu_seconds(child);
  double self_cpu0 = bench::process_cpu_seconds(getpid());
  std::uint64_t start = bench::now_ns();
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t t0 = bench::now_ns();
    round_trip();
    lat.add(bench::now_ns() - t0);
  }
  std::uint64_t elapsed = bench::now_ns() - start;
  double child_cpu = bench::process_cpu_seconds(child) - child_cpu0;
  double self_cpu = bench::process_cpu_seconds(getpid()) - self_cpu0;
  close(fd);
  waitpid(child, nullptr, 0);

  bench::JsonObject json;
  json.str("bench", "echo_floor")
      .integer("request_bytes", static_cast<long long>(kHeader + request))
      .integer("response_bytes", static_cast<long long>(kHeader + response))
      .integer("count", static_cast<long long>(count))
      .num("seconds", static_cast<double>(elapsed) / 1e9)
      .num("round_trips_per_s", static_cast<double>(count) * 1e9 / static_cast<double>(elapsed))
      .latencies("latency", lat)
      .num("echo_cpu_us_per_round_trip", child_cpu * 1e6 / static_cast<double>(count))
      .num("sender_cpu_us_per_round_trip", self_cpu * 1e6 / static_cast<double>(count));
  std::printf("%s\n", json.text().c_str());
  return 0;
}
