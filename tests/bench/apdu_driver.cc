// SPDX-License-Identifier: LGPL-2.1-or-later
// apdu_driver: the host side of the bridge benchmark. Listens on loopback,
// starts the client command given after `--` (with {port} replaced by the
// port), speaks VSCard to it through vscard::HostSession over a blocking
// TCP_NODELAY socket, and times APDU round trips as QEMU would see them: from
// handing the command to the socket until the whole response is decoded.
//
//   apdu_driver --apdu HEX --count C [--warmup W]        -- vscclient --soft-card 127.0.0.1 {port}
//   apdu_driver --cac-sessions K [--warmup W]             -- vscclient --soft-card 127.0.0.1 {port}
//   apdu_driver --start-only                              -- vscclient --soft-card 127.0.0.1 {port}
//
// The client's CPU time per APDU (utime+stime from /proc/PID/stat over the
// timed loop), its voluntary context switches (every thread's, over the timed
// loop and over its whole life), its threads, its peak RSS (VmHWM), the time
// from spawning it to its first ATR and the CPU it used until then (every
// thread's, /proc/PID/task/*/schedstat: unlike the wall time, this does not
// count waiting for a CPU) are reported with the latencies as one JSON object
// on stdout. --start-only stops at the ATR (the start-up figures alone). The client's own output goes to --client-log. APDUs go
// to the reader whose card arrived first.
//
// --direct-reader NAME (with --apdu; built when libpcsclite is): every APDU
// through the client is followed by the same APDU sent straight to PC/SC
// reader NAME with SCardTransmit, timed apart (direct_latency_*). The client
// being vscclient --pcsc on that reader, the two alternate APDU by APDU, so
// the machine's load drifts alike for both and `added_p50_us` (bridge p50
// minus direct p50) is not two runs' noise (run-bench.sh --sections pcsc).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench_util.h"
#include "cac_session.h"
#include "vscard/apdu.h"
#include "vscard/host_session.h"
#if APDU_DRIVER_PCSC
#include "pcsc_card.h"
#endif

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "apdu_driver: %s\n", what.c_str());
  std::exit(1);
}

struct Args {
  std::vector<std::uint8_t> apdu;
  std::size_t count = 20000, warmup = 500, sessions = 0;
  bool start_only = false;
  double wait_card_s = 120;
  std::string client_log = "/dev/null";
  std::string direct_reader;
  std::vector<std::string> client;
};

Args parse(int argc, char** argv) {
  Args a;
  int i = 1;
  for (; i < argc; ++i) {
    std::string opt = argv[i];
    if (opt == "--") break;
    if (opt == "--start-only") {
      a.start_only = true;
      continue;
    }
    if (i + 1 >= argc) die("missing value for " + opt);
    std::string v = argv[++i];
    if (opt == "--apdu") {
      auto bytes = vscard::from_hex(v);
      if (!bytes || bytes->size() < 4) die("--apdu needs at least 4 bytes of hex");
      a.apdu = *bytes;
    } else if (opt == "--count") a.count = std::stoul(v);
    else if (opt == "--warmup") a.warmup = std::stoul(v);
    else if (opt == "--cac-sessions") a.sessions = std::stoul(v);
    else if (opt == "--wait-card") a.wait_card_s = std::stod(v);
    else if (opt == "--client-log") a.client_log = v;
    else if (opt == "--direct-reader") a.direct_reader = v;
    else die("unknown option " + opt);
  }
  for (++i; i < argc; ++i) a.client.emplace_back(argv[i]);
  if (a.client.empty()) die("usage: apdu_driver OPTIONS -- CLIENT ARGS... ({port} is replaced)");
  if (a.apdu.empty() && a.sessions == 0 && !a.start_only)
    die("give --apdu HEX, --cac-sessions K or --start-only");
  if (!a.direct_reader.empty() && a.apdu.empty()) die("--direct-reader needs --apdu");
#if !APDU_DRIVER_PCSC
  if (!a.direct_reader.empty()) die("--direct-reader: built without libpcsclite");
#endif
  return a;
}

pid_t spawn(const Args& a, int port, const std::string& log) {
  std::vector<std::string> argv;
  for (std::string s : a.client) {
    auto at = s.find("{port}");
    if (at != std::string::npos) s.replace(at, 6, std::to_string(port));
    argv.push_back(s);
  }
  pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = open("/dev/null", O_RDONLY);
    if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
    // stdin stays open and empty (vscclient reads commands from it).
    int pipefd[2];
    if (pipe(pipefd) == 0) dup2(pipefd[0], 0); else if (null >= 0) dup2(null, 0);
    std::vector<char*> cargv;
    for (auto& s : argv) cargv.push_back(s.data());
    cargv.push_back(nullptr);
    execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "apdu_driver: cannot run %s: %s\n", cargv[0], std::strerror(errno));
    _exit(127);
  }
  return pid;
}

// One client connection driven by a HostSession (QEMU policy: what the bridge
// talks to in real use).
class Host {
 public:
  explicit Host(int fd)
      : fd_(fd), session_(vscard::HostPolicy::qemu(), [this](const vscard::HostEvent& e) {
          on_event(e);
        }) {
    buffer_.resize(64 * 1024);
    response_.reserve(64 * 1024);
  }

  // Reads and answers until a card is in reader 0 or `deadline_ns` passes.
  bool wait_card(std::uint64_t deadline_ns) {
    while (!card_) {
      std::uint64_t now = bench::now_ns();
      if (now >= deadline_ns) return false;
      pollfd p{fd_, POLLIN, 0};
      int ms = static_cast<int>((deadline_ns - now) / 1000000) + 1;
      if (poll(&p, 1, ms) <= 0) continue;
      if (!pump()) return false;
    }
    return true;
  }

  // One round trip; the response (data + SW) is left in `response`.
  bool transmit(const std::vector<std::uint8_t>& apdu, std::vector<std::uint8_t>& response) {
    answered_ = false;
    if (!session_.send_apdu(card_reader_, apdu) || !flush()) return false;
    while (!answered_) {
      if (!pump()) return false;
    }
    response.assign(response_.begin(), response_.end());
    return !error_;
  }

 private:
  bool flush() {
    auto out = session_.pending_output();
    if (out.empty()) return true;
    bool ok = bench::write_all(fd_, out.data(), out.size());
    session_.consume_output(out.size());
    return ok;
  }
  bool pump() {
    ssize_t n = recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (n <= 0) return false;
    session_.receive(vscard::Bytes(buffer_.data(), static_cast<std::size_t>(n)));
    return flush() && !session_.closed();
  }
  void on_event(const vscard::HostEvent& e) {
    namespace ev = vscard::host_event;
    if (const auto* card = std::get_if<ev::CardInserted>(&e)) {
      if (!card_ && card->accepted) card_reader_ = card->id;
      card_ = card_ || card->accepted;
    } else if (std::holds_alternative<ev::CardRemoved>(e)) {
      card_ = false;
    } else if (const auto* r = std::get_if<ev::ApduResponse>(&e)) {
      response_.assign(r->response.begin(), r->response.end());
      answered_ = true;
      error_ = false;
    } else if (std::holds_alternative<ev::ApduError>(e)) {
      response_.clear();
      answered_ = true;
      error_ = true;
    }
  }

  int fd_;
  vscard::HostSession session_;
  std::vector<std::uint8_t> buffer_;
  std::vector<std::uint8_t> response_;
  bool card_ = false, answered_ = false, error_ = false;
  vscard::ReaderId card_reader_ = 0;
};

// Sums, over every live thread of `pid`, `field` of that thread's /proc file.
template <typename Field>
long long sum_over_threads(pid_t pid, Field field) {
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  long long total = 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') total += field(dir + "/" + e->d_name);
  }
  closedir(d);
  return total;
}

// Voluntary context switches (a thread counts one each time it sleeps: on a
// socket, a futex, poll).
long long voluntary_switches(pid_t pid) {
  return sum_over_threads(pid, [](const std::string& task) {
    return bench::status_field(task + "/status", "voluntary_ctxt_switches");
  });
}

// Nanoseconds on a CPU (schedstat's first field: exact, where /proc/PID/stat
// counts 10 ms ticks).
long long on_cpu_ns(pid_t pid) {
  return sum_over_threads(pid, [](const std::string& task) {
    std::ifstream in(task + "/schedstat");
    long long ns = 0;
    in >> ns;
    return ns;
  });
}

int listen_loopback(int& port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 1) != 0) {
    die(std::string("cannot listen on 127.0.0.1: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse(argc, argv);
  int port = 0;
  int listener = listen_loopback(port);
  std::uint64_t spawned = bench::now_ns();
  pid_t client = spawn(args, port, args.client_log);
  rusage life{};  // the client's whole life, all threads (wait4)
  auto stop_client = [&] {
    kill(client, SIGTERM);
    wait4(client, nullptr, 0, &life);
  };

  pollfd p{listener, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(args.wait_card_s * 1000)) <= 0) {
    stop_client();
    die("the client did not connect (its log: " + args.client_log + ")");
  }
  int fd = accept(listener, nullptr, nullptr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Host host(fd);
  std::uint64_t setup_start = bench::now_ns();
  if (!host.wait_card(setup_start + static_cast<std::uint64_t>(args.wait_card_s * 1e9))) {
    stop_client();
    die("no card arrived from the client (its log: " + args.client_log + ")");
  }
  std::uint64_t card_at = bench::now_ns();
  double card_after_s = static_cast<double>(card_at - setup_start) / 1e9;
  double spawn_to_atr_ms = static_cast<double>(card_at - spawned) / 1e6;
  double cpu_to_atr_ms = static_cast<double>(on_cpu_ns(client)) / 1e6;
  if (args.start_only) {
    bench::JsonObject start;
    start.str("bench", "start")
        .num("spawn_to_atr_ms", spawn_to_atr_ms)
        .num("client_oncpu_ms_at_atr", cpu_to_atr_ms)
        .integer("client_vmhwm_kib_at_atr", bench::proc_status_kib(client, "VmHWM"))
        .integer("client_threads", bench::proc_status_kib(client, "Threads"));
    stop_client();
    std::printf("%s\n", start.text().c_str());
    return 0;
  }

  bench::JsonObject json;
  std::vector<std::uint8_t> response;
  bench::Latencies lat;
  double cpu0 = 0, cpu1 = 0;
  long long switches0 = 0, switches1 = 0, oncpu0 = 0, oncpu1 = 0;
  std::uint64_t elapsed = 0;
  std::size_t done = 0;
  if (!args.apdu.empty()) {
    if (!host.transmit(args.apdu, response)) die("the first APDU failed");
    std::string first = vscard::to_hex(response);
    // One APDU straight to --direct-reader; its time goes to `direct`.
    bench::Latencies direct;
    std::function<bool()> direct_apdu = [] { return true; };
#if APDU_DRIVER_PCSC
    bench::PcscCard direct_card;
    if (!args.direct_reader.empty()) {
      std::string error;
      if (!direct_card.open(args.direct_reader, error)) {
        stop_client();
        die("--direct-reader: " + error);
      }
      direct.reserve(args.count);
      direct_apdu = [&] {
        std::uint64_t t0 = bench::now_ns();
        if (direct_card.transmit(args.apdu) != SCARD_S_SUCCESS) return false;
        direct.add(bench::now_ns() - t0);
        return true;
      };
    }
#endif
    for (std::size_t i = 0; i < args.warmup; ++i) {
      host.transmit(args.apdu, response);
      direct_apdu();
    }
    direct.ns.clear();
    lat.reserve(args.count);
    cpu0 = bench::process_cpu_seconds(client);
    switches0 = voluntary_switches(client);
    oncpu0 = on_cpu_ns(client);
    std::uint64_t start = bench::now_ns();
    for (; done < args.count; ++done) {
      std::uint64_t t0 = bench::now_ns();
      if (!host.transmit(args.apdu, response)) break;
      std::uint64_t t1 = bench::now_ns();
      lat.add(t1 - t0);
      elapsed += t1 - t0;  // the client's time only, with --direct-reader
      if (!direct_apdu()) {
        stop_client();
        die("--direct-reader: SCardTransmit failed");
      }
    }
    if (args.direct_reader.empty()) elapsed = bench::now_ns() - start;
    cpu1 = bench::process_cpu_seconds(client);
    switches1 = voluntary_switches(client);
    oncpu1 = on_cpu_ns(client);
    json.str("bench", "apdu_round_trip")
        .str("command", vscard::to_hex(args.apdu))
        .str("response", first.size() > 64 ? first.substr(0, 64) + "..." : first)
        .integer("request_bytes", static_cast<long long>(12 + args.apdu.size()))
        .integer("response_bytes", static_cast<long long>(12 + response.size()));
    if (!args.direct_reader.empty()) {
      double bridge_p50 = lat.percentile_us(0.50), direct_p50 = direct.percentile_us(0.50);
      json.latencies("direct_latency", direct).num("added_p50_us", bridge_p50 - direct_p50);
    }
  } else {
    bench::CacSession cac([&](const bench::ApduBytes& c, bench::ApduBytes& r) {
      return host.transmit(c, r);
    });
    bench::CacSessionResult result;
    for (std::size_t i = 0; i < args.warmup && i < 2; ++i) result = cac.run();
    lat.reserve(args.sessions);
    cpu0 = bench::process_cpu_seconds(client);
    switches0 = voluntary_switches(client);
    oncpu0 = on_cpu_ns(client);
    std::uint64_t start = bench::now_ns();
    int apdus = 0;
    for (; done < args.sessions; ++done) {
      std::uint64_t t0 = bench::now_ns();
      result = cac.run();
      if (!result.ok) break;
      lat.add(bench::now_ns() - t0);
      apdus += result.apdus;
    }
    elapsed = bench::now_ns() - start;
    cpu1 = bench::process_cpu_seconds(client);
    switches1 = voluntary_switches(client);
    oncpu1 = on_cpu_ns(client);
    if (!result.ok) {
      stop_client();
      die("CAC session failed: " + result.error);
    }
    json.str("bench", "cac_session")
        .integer("apdus_per_session", result.apdus)
        .integer("certificate_bytes", static_cast<long long>(result.certificate_bytes))
        .num("apdus_per_s", apdus * 1e9 / static_cast<double>(elapsed));
  }
  long hwm = bench::proc_status_kib(client, "VmHWM");
  long rss = bench::proc_status_kib(client, "VmRSS");
  long threads = bench::proc_status_kib(client, "Threads");
  stop_client();
  if (done == 0) die("no round trip completed");
  json.integer("count", static_cast<long long>(done))
      .num("seconds", static_cast<double>(elapsed) / 1e9)
      .num("per_s", static_cast<double>(done) * 1e9 / static_cast<double>(elapsed))
      .latencies("latency", lat)
      .num("client_cpu_us_per_item", (cpu1 - cpu0) * 1e6 / static_cast<double>(done))
      .num("client_oncpu_us_per_item",
           static_cast<double>(oncpu1 - oncpu0) / 1e3 / static_cast<double>(done))
      .integer("client_vmhwm_kib", hwm)
      .integer("client_vmrss_kib", rss)
      .num("card_ready_s", card_after_s)
      .num("spawn_to_atr_ms", spawn_to_atr_ms)
      .num("client_oncpu_ms_at_atr", cpu_to_atr_ms)
      .num("client_voluntary_switches_per_item",
           static_cast<double>(switches1 - switches0) / static_cast<double>(done))
      .integer("client_voluntary_switches_life", life.ru_nvcsw)
      .integer("client_threads", threads);
  std::printf("%s\n", json.text().c_str());
  return 0;
}
