// SPDX-License-Identifier: LGPL-2.1-or-later
// host_scale: vschost's HostServer (the same listener, ClientConnection and
// HostSession the program runs) under N concurrent clients. Every card that
// arrives gets APDUs back to back through HostServer::transmit(), as vschost's
// scripts and PC/SC export send them; once all N cards are in, the APDUs
// answered in the next D seconds are counted and timed.
//
//   host_scale --clients N --seconds D [--apdu HEX]
//
// Prints {"port": P} on the first line (for load_client), then one JSON object
// with the aggregate rate, latency percentiles (host side: transmit() to the
// response handler), per-client minimum/maximum counts and the host's RSS per
// connection: (VmRSS with N clients running - VmRSS before the first) / N.
#include <glib.h>

#include <array>
#include <cstdio>
#include <map>
#include <string>

#include "bench_util.h"
#include "host_server.h"
#include "vscard/apdu.h"

namespace {

// Log-linear latency histogram: 64 sub-buckets per power of two of
// nanoseconds (at most 1.6% error), fixed size, so recording never allocates.
class Histogram {
 public:
  void add(std::uint64_t ns) {
    ++counts_[index(ns)];
    ++total_;
  }
  double percentile_us(double q) const {
    std::uint64_t rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank) return static_cast<double>(upper(i)) / 1000.0;
    }
    return 0;
  }
  std::uint64_t total() const { return total_; }

 private:
  static constexpr int kSub = 64;
  static std::size_t index(std::uint64_t ns) {
    if (ns < kSub) return ns;
    int exp = 63 - __builtin_clzll(ns);  // ns >= 64: exp >= 6
    std::uint64_t sub = (ns >> (exp - 6)) & (kSub - 1);
    return static_cast<std::size_t>((exp - 5) * kSub) + sub;
  }
  static std::uint64_t upper(std::size_t i) {
    if (i < kSub) return i;
    int exp = static_cast<int>(i / kSub) + 5;
    std::uint64_t sub = i % kSub;
    return ((kSub + sub + 1) << (exp - 6)) - 1;
  }
  std::array<std::uint64_t, 64 * 60> counts_{};
  std::uint64_t total_ = 0;
};

class Driver : public vschost::HostObserver {
 public:
  Driver(vschost::HostServer& server, std::vector<std::uint8_t> apdu, std::size_t clients,
         double seconds, GMainLoop* loop)
      : server_(server), apdu_(std::move(apdu)), expected_(clients), seconds_(seconds),
        loop_(loop) {}

  void card_inserted(vschost::ReaderRef ref, std::span<const std::uint8_t>, bool accepted) override {
    if (!accepted) return;
    counts_[ref.client] = 0;
    send(ref);
    if (counts_.size() == expected_ && !measuring_) start();
  }
  void client_disconnected(vschost::ClientId id, std::string_view reason) override {
    if (measuring_) {
      ++lost_;
      g_warning("client %llu left during the measurement: %.*s",
                static_cast<unsigned long long>(id), static_cast<int>(reason.size()), reason.data());
    }
  }

  std::string report(long rss_before_kib, long rss_after_kib) const {
    std::uint64_t min = UINT64_MAX, max = 0, sum = 0;
    for (const auto& [id, n] : counts_) {
      min = std::min(min, n);
      max = std::max(max, n);
      sum += n;
    }
    bench::JsonObject json;
    json.str("bench", "host_scale")
        .integer("clients", static_cast<long long>(counts_.size()))
        .num("seconds", elapsed_s_)
        .integer("apdus", static_cast<long long>(sum))
        .num("apdus_per_s", static_cast<double>(sum) / elapsed_s_)
        .num("latency_p50_us", hist_.percentile_us(0.50))
        .num("latency_p99_us", hist_.percentile_us(0.99))
        .num("latency_p999_us", hist_.percentile_us(0.999))
        .integer("min_client_apdus", static_cast<long long>(counts_.empty() ? 0 : min))
        .integer("max_client_apdus", static_cast<long long>(max))
        .integer("clients_lost", lost_)
        .integer("host_rss_before_kib", rss_before_kib)
        .integer("host_rss_kib", rss_after_kib)
        .num("host_kib_per_connection",
             static_cast<double>(rss_after_kib - rss_before_kib) /
                 static_cast<double>(std::max<std::size_t>(counts_.size(), 1)))
        .num("host_cpu_us_per_apdu", cpu_s_ * 1e6 / static_cast<double>(std::max<std::uint64_t>(sum, 1)));
    return json.text();
  }

 private:
  void send(vschost::ReaderRef ref) {
    std::uint64_t t0 = bench::now_ns();
    bool ok = server_.transmit(ref, apdu_, [this, ref, t0](auto response, auto) {
      if (!response) return;  // the client went away
      if (measuring_) {
        hist_.add(bench::now_ns() - t0);
        ++counts_[ref.client];
      }
      if (!finished_) send(ref);
    });
    if (!ok) g_warning("transmit to client %llu refused", static_cast<unsigned long long>(ref.client));
  }
  void start() {
    measuring_ = true;
    start_ns_ = bench::now_ns();
    cpu0_ = bench::process_cpu_seconds(getpid());
    g_timeout_add(static_cast<guint>(seconds_ * 1000), +[](gpointer self) -> gboolean {
      static_cast<Driver*>(self)->stop();
      return G_SOURCE_REMOVE;
    }, this);
  }
  void stop() {
    measuring_ = false;
    finished_ = true;
    elapsed_s_ = static_cast<double>(bench::now_ns() - start_ns_) / 1e9;
    cpu_s_ = bench::process_cpu_seconds(getpid()) - cpu0_;
    g_main_loop_quit(loop_);
  }

  vschost::HostServer& server_;
  std::vector<std::uint8_t> apdu_;
  std::size_t expected_;
  double seconds_;
  GMainLoop* loop_;
  std::map<vschost::ClientId, std::uint64_t> counts_;
  Histogram hist_;
  bool measuring_ = false, finished_ = false;
  std::uint64_t start_ns_ = 0;
  double elapsed_s_ = 0, cpu0_ = 0, cpu_s_ = 0;
  long long lost_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::size_t clients = 1;
  double seconds = 5;
  std::vector<std::uint8_t> apdu = {0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0x00,
                                    0x00, 0x00, 0x79, 0x01, 0x00};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string opt = argv[i], v = argv[i + 1];
    if (opt == "--clients") clients = std::stoul(v);
    else if (opt == "--seconds") seconds = std::stod(v);
    else if (opt == "--apdu" && vscard::from_hex(v)) apdu = *vscard::from_hex(v);
    else {
      std::fprintf(stderr, "usage: host_scale --clients N --seconds D [--apdu HEX]\n");
      return 2;
    }
  }
  // Connection logs ("client N connected") would dominate at 1000 clients.
  g_log_set_handler("vschost", static_cast<GLogLevelFlags>(G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO),
                    [](const gchar*, GLogLevelFlags, const gchar*, gpointer) {}, nullptr);
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  vschost::HostServer::Options options;
  options.policy = vscard::HostPolicy::qemu();
  vschost::HostServer server(options, [] {});
  vscard::Listener::Options listen_options;
  listen_options.backlog = 1024;
  GError* error = nullptr;
  if (!server.listen(vscard::Address::tcp("127.0.0.1", 0), listen_options, &error)) {
    std::fprintf(stderr, "host_scale: %s\n", error->message);
    return 1;
  }
  Driver driver(server, apdu, clients, seconds, loop);
  server.add_observer(&driver);
  long rss_before = bench::proc_status_kib(0, "VmRSS");
  std::printf("{\"port\": %u}\n", server.listeners().front()->port());
  std::fflush(stdout);
  g_main_loop_run(loop);
  long rss_after = bench::proc_status_kib(0, "VmRSS");
  std::printf("%s\n", driver.report(rss_before, rss_after).c_str());
  std::fflush(stdout);
  server.remove_observer(&driver);
  g_main_loop_unref(loop);
  return 0;
}
