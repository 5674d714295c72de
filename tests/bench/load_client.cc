// SPDX-License-Identifier: LGPL-2.1-or-later
// load_client: N VSCard clients in one process for host_scale. Each
// connection is a vscard::ClientSession with one reader and a card (the CAC
// ATR libcacard emulates) that answers every APDU itself with 90 00 at once,
// so the host, not the card, is what is measured. One thread, epoll,
// non-blocking sockets.
//
//   load_client --port P --clients N
//
// Runs until the host closes every connection or SIGTERM; then prints one
// JSON line with the connections made and APDUs answered.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.h"
#include "vscard/client_session.h"

namespace {

// libcacard's CAC ATR (src/cac.c), accepted by QEMU's check_atr.
const std::uint8_t kAtr[] = {0x3B, 0x7A, 0x18, 0x00, 0x00, 0x73, 0x66, 0x74,
                             0x65, 0x20, 0x63, 0x64, 0x31, 0x34, 0x34};
const std::uint8_t kOk[] = {0x90, 0x00};

volatile std::sig_atomic_t stop_requested = 0;

struct Client {
  int fd = -1;
  bool want_write = false;
  bool closed = false;
  std::uint64_t answered = 0;
  std::unique_ptr<vscard::ClientSession> session;
};

class Load {
 public:
  explicit Load(int epoll) : epoll_(epoll) {}

  bool add(std::uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::fprintf(stderr, "load_client: connect: %s\n", std::strerror(errno));
      if (fd >= 0) close(fd);
      return false;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    std::size_t index = clients_.size();
    auto& c = clients_.emplace_back(std::make_unique<Client>());
    c->fd = fd;
    c->session = std::make_unique<vscard::ClientSession>(
        vscard::ClientSession::Options{}, [this, index](const vscard::ClientEvent& e) {
          Client& me = *clients_[index];
          if (const auto* apdu = std::get_if<vscard::client_event::ApduReceived>(&e)) {
            me.session->send_apdu_response(apdu->reader, kOk);
            ++me.answered;
          }
        });
    auto reader = c->session->add_reader("Load Reader");
    c->session->insert_card(reader, kAtr);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = index;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    flush(*c, index);
    ++open_;
    return true;
  }

  void run() {
    std::vector<epoll_event> events(256);
    std::vector<std::uint8_t> buffer(64 * 1024);
    while (open_ > 0 && !stop_requested) {
      int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 1000);
      for (int i = 0; i < n; ++i) {
        std::size_t index = events[static_cast<std::size_t>(i)].data.u64;
        Client& c = *clients_[index];
        if (c.closed) continue;
        if (events[static_cast<std::size_t>(i)].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          ssize_t r = recv(c.fd, buffer.data(), buffer.size(), 0);
          if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            drop(c);
            continue;
          }
          if (r > 0) c.session->receive(vscard::Bytes(buffer.data(), static_cast<std::size_t>(r)));
        }
        flush(c, index);
      }
    }
  }

  std::string report() const {
    std::uint64_t answered = 0;
    for (const auto& c : clients_) answered += c->answered;
    bench::JsonObject json;
    json.str("bench", "load_client")
        .integer("connections", static_cast<long long>(clients_.size()))
        .integer("apdus_answered", static_cast<long long>(answered))
        .integer("vmhwm_kib", bench::proc_status_kib(0, "VmHWM"));
    return json.text();
  }

 private:
  void flush(Client& c, std::size_t index) {
    auto out = c.session->pending_output();
    while (!out.empty()) {
      ssize_t w = send(c.fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) break;
      if (w <= 0) {
        drop(c);
        return;
      }
      c.session->consume_output(static_cast<std::size_t>(w));
      out = c.session->pending_output();
    }
    bool want = !out.empty();
    if (want != c.want_write) {
      epoll_event ev{};
      ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      ev.data.u64 = index;
      epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
      c.want_write = want;
    }
  }
  void drop(Client& c) {
    epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.closed = true;
    --open_;
  }

  int epoll_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::size_t open_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::uint16_t port = 0;
  std::size_t clients = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string opt = argv[i];
    if (opt == "--port") port = static_cast<std::uint16_t>(std::stoul(argv[i + 1]));
    else if (opt == "--clients") clients = std::stoul(argv[i + 1]);
  }
  if (port == 0) {
    std::fprintf(stderr, "usage: load_client --port P --clients N\n");
    return 2;
  }
  std::signal(SIGTERM, [](int) { stop_requested = 1; });
  std::signal(SIGINT, [](int) { stop_requested = 1; });
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  Load load(epoll);
  for (std::size_t i = 0; i < clients; ++i) {
    if (!load.add(port)) return 1;
  }
  load.run();
  std::printf("%s\n", load.report().c_str());
  return 0;
}
