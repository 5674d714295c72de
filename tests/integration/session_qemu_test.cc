// SPDX-License-Identifier: LGPL-2.1-or-later
// The sessions against the real QEMU 7.2 ccid-card-passthru (paused guest,
// -S: its chardev still answers):
// - HostSession's Qemu policy and QEMU get the same client bytes and must
//   answer the same bytes (a differential test over the measured cases);
// - ClientSession talks to QEMU: handshake, a second reader refused because
//   QEMU gives it id 0 too, ATR accepted, CardRemove, ReaderRemove.
// Skips when qemu-system-x86_64 is not installed.
#include <arpa/inet.h>
#include <gio/gio.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "session_test_util.h"

namespace vscard::test {
namespace {

// A guard against a hung peer, not a measured threshold.
constexpr auto kGuard = std::chrono::seconds(20);

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

struct ObjectUnref {
  void operator()(gpointer p) const { g_object_unref(p); }
};
template <class T>
using GPtr = std::unique_ptr<T, ObjectUnref>;

class QemuPassthru {
 public:
  // Empty string on success, else why QEMU cannot run here.
  std::string start() {
    g_autofree char* binary = g_find_program_in_path("qemu-system-x86_64");
    if (binary == nullptr) return "qemu-system-x86_64 not installed (Debian package qemu-system-x86)";
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener, 4) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return "cannot listen on 127.0.0.1";
    }
    port_ = ntohs(addr.sin_port);
    // The listener is QEMU's fd 3: the port is ours before QEMU starts, and a
    // connection made before QEMU is ready just waits in the backlog.
    GPtr<GSubprocessLauncher> launcher(g_subprocess_launcher_new(
        static_cast<GSubprocessFlags>(G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                      G_SUBPROCESS_FLAGS_STDERR_SILENCE)));
    g_subprocess_launcher_take_fd(launcher.get(), listener, 3);
    GError* error = nullptr;
    proc_.reset(g_subprocess_launcher_spawn(
        launcher.get(), &error, binary, "-S", "-nodefaults", "-display", "none", "-device",
        "piix3-usb-uhci", "-device", "usb-ccid", "-chardev",
        "socket,id=vsc,fd=3,server=on,wait=off", "-device", "ccid-card-passthru,chardev=vsc",
        nullptr));
    if (!proc_) {
      std::string why = std::string("cannot start QEMU: ") + error->message;
      g_error_free(error);
      return why;
    }
    return {};
  }
  ~QemuPassthru() {
    if (proc_) {
      g_subprocess_force_exit(proc_.get());
      g_subprocess_wait(proc_.get(), nullptr, nullptr);
    }
  }
  Fd connect() const {
    Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return Fd();
    return s;
  }

 private:
  GPtr<GSubprocess> proc_;
  std::uint16_t port_ = 0;
};

bool write_all(int fd, const ByteVec& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads into `in` until `done(in)` or the guard expires; false on EOF/guard.
template <class Pred>
bool read_until(int fd, ByteVec& in, Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + kGuard;
  while (!done(in)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    std::uint8_t buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    in.insert(in.end(), buf, buf + n);
  }
  return true;
}

bool ends_with(const ByteVec& in, const ByteVec& tail) {
  return in.size() >= tail.size() && std::equal(tail.begin(), tail.end(), in.end() - tail.size());
}

class SessionQemu : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = qemu.start();
    if (!why.empty()) GTEST_SKIP() << why;
    conn = std::make_unique<Fd>(qemu.connect());
    ASSERT_GE(conn->fd, 0) << "cannot connect to QEMU's chardev";
  }
  QemuPassthru qemu;
  std::unique_ptr<Fd> conn;
};

const ByteVec kAtr{0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B};

TEST_F(SessionQemu, QemuPolicyAnswersExactlyAsQemu) {
  ByteVec forty(40, 0), over(41, 0), bad_ts = kAtr;
  forty[0] = over[0] = 0x3B;
  over[1] = 0x0F;
  bad_ts[0] = 0x3A;
  const std::vector<std::pair<std::string, ByteVec>> steps = {
      {"Init", wire(1, 0, init_payload(2, 1))},
      {"Init bad magic", wire(1, 0, cat({text_bytes("XXXX"), words({2, 0})}))},
      {"Init version 3", wire(1, 5, init_payload(3, 0))},
      {"Init 8 bytes", wire(1, 0, cat({text_bytes("VSCD"), words({2})}))},
      {"Init 13 bytes", wire(1, 0, cat({init_payload(), ByteVec{'x'}}))},
      {"ReaderAdd", wire(3, 0xFFFFFFFFu, text_bytes("Reader A"))},
      {"ReaderAdd again, id 7", wire(3, 7)},
      {"ReaderAdd bad UTF-8", wire(3, 0, ByteVec{0xFF})},
      {"ATR", wire(5, 0, kAtr)},
      {"ATR reader 3", wire(5, 3, kAtr)},
      {"ATR bad TS", wire(5, 0, bad_ts)},
      {"ATR empty", wire(5, 0, {})},
      {"ATR one byte", wire(5, 0, ByteVec{0x3B})},
      {"ATR 40 bytes", wire(5, 0, forty)},
      {"ATR 41 bytes", wire(5, 0, over)},
      {"ATR truncated", wire(5, 0, ByteVec{0x3B, 0x05, 1, 2})},
      {"APDU", wire(7, 0, ByteVec{0x90, 0x00})},
      {"Error", error_msg(0, 1)},
      {"Error short", wire(2, 0, {})},
      {"Flush", wire(8, 0)},
      {"FlushComplete", wire(9, 4)},
      {"Reconnect", wire(10, 0, ByteVec(256, 0))},
      {"Reconnect malformed", wire(10, 0, ByteVec(3, 0))},
      {"type 0", wire(0, 2)},
      {"type 0x63", wire(0x63, 3, text_bytes("abc"))},
      {"CardRemove reader 9", wire(6, 9)},
      {"ReaderRemove reader 6", wire(4, 6)},
      {"two in one write", cat({wire(6, 0), wire(4, 0)})},
  };
  HostSession host(HostPolicy::qemu(), [](const HostEvent&) {});
  std::uint32_t n = 0;
  for (const auto& [name, bytes] : steps) {
    // A CardRemove with a fresh reader id marks the end of each step's answer:
    // QEMU answers it with Error(success) echoing the id, whatever its state.
    const ByteVec sentinel = wire(6, 0xC0DE0000u + n++);
    host.receive(bytes);
    const ByteVec expected = take_output(host);
    host.receive(sentinel);
    const ByteVec sentinel_reply = take_output(host);
    ASSERT_EQ(sentinel_reply, error_msg(0xC0DE0000u + n - 1, 0));
    ASSERT_TRUE(write_all(conn->fd, cat({bytes, sentinel}))) << name;
    ByteVec got;
    ASSERT_TRUE(read_until(conn->fd, got, [&](const ByteVec& in) { return ends_with(in, sentinel_reply); }))
        << name << ": QEMU sent " << hex(got);
    got.resize(got.size() - sentinel_reply.size());
    EXPECT_EQ(hex(got), hex(expected)) << name;
  }
  EXPECT_FALSE(host.closed());
}

TEST_F(SessionQemu, QemuPolicyMatchesQemuByteByByte) {
  const ByteVec in = cat({wire(1, 0, init_payload()), wire(3, 0), wire(5, 0, kAtr), wire(8, 1)});
  HostSession host(HostPolicy::qemu(), [](const HostEvent&) {});
  for (std::uint8_t b : in) {
    const ByteVec one{b};
    host.receive(one);
    ASSERT_TRUE(write_all(conn->fd, one));
  }
  const ByteVec expected = take_output(host);
  ByteVec got;
  ASSERT_TRUE(read_until(conn->fd, got, [&](const ByteVec& g) { return g.size() >= expected.size(); }));
  EXPECT_EQ(hex(got), hex(expected));
}

TEST_F(SessionQemu, ClientSessionWithQemu) {
  EventLog log;
  ClientSession client(ClientSession::Options{},
                       [&](const ClientEvent& e) { log.lines.push_back(describe(e)); });
  const ReaderHandle a = client.add_reader("Reader A");
  const ReaderHandle b = client.add_reader("Reader B");
  ASSERT_TRUE(client.insert_card(a, kAtr));
  // Sends what the session has, then reads until `done` holds.
  auto exchange = [&](auto done) {
    ByteVec in;
    const ByteVec out = take_output(client);
    if (!write_all(conn->fd, out)) return false;
    return read_until(conn->fd, in, [&](ByteVec& got) {
      client.receive(got);
      got.clear();
      const ByteVec more = take_output(client);
      if (!more.empty() && !write_all(conn->fd, more)) return true;
      return done() || client.closed();
    });
  };
  // Init, ReaderAdd A, ATR (after A's id), ReaderAdd B; the ATR's answer is the
  // last Error QEMU owes.
  ASSERT_TRUE(exchange([&] {
    return client.reader(b)->state == ClientSession::ReaderState::Rejected && log.lines.size() >= 3;
  })) << ::testing::PrintToString(log.lines);
  EXPECT_EQ(client.host_version(), kProtocolVersion);
  EXPECT_FALSE(client.negotiated(kCapabilityReconnect));  // QEMU's capabilities are 0
  EXPECT_EQ(client.reader(a)->state, ClientSession::ReaderState::Active);
  EXPECT_EQ(client.reader(a)->id, 0u);
  EXPECT_EQ(log.lines[0], "HostInit version=2 caps=0 mismatch=0");
  EXPECT_EQ(log.lines[1], "ReaderAccepted reader=0 id=0");
  EXPECT_EQ(log.kinds()[2], "ReaderRejected");

  // An ATR QEMU refuses, then the removals; the remove's answer comes last.
  ASSERT_TRUE(client.remove_card(a));
  ASSERT_TRUE(client.insert_card(a, ByteVec{0x3A, 0x00}));
  ASSERT_TRUE(exchange([&] { return log.has_kind("AtrRejected"); }));
  ASSERT_TRUE(client.insert_card(a, kAtr));
  ASSERT_TRUE(client.remove_reader(a));
  // Nothing is owed after ReaderRemove's answer; a Flush-free QEMU sends nothing
  // else, so the check is that no HostError or violation came with the answers.
  const ByteVec out = take_output(client);
  EXPECT_EQ(out, cat({wire(5, 0, kAtr), wire(6, 0), wire(4, 0)}));
  ASSERT_TRUE(write_all(conn->fd, out));
  ByteVec in;
  ASSERT_TRUE(read_until(conn->fd, in, [](const ByteVec& g) { return g.size() >= 3 * 16; }));
  EXPECT_EQ(in, cat({error_msg(0, 0), error_msg(0, 0), error_msg(0, 0)}));
  client.receive(in);
  EXPECT_FALSE(log.has_kind("HostError"));
  EXPECT_FALSE(log.has_kind("ProtocolViolation"));
  EXPECT_FALSE(client.closed());
}

}  // namespace
}  // namespace vscard::test
