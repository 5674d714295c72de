// SPDX-License-Identifier: LGPL-2.1-or-later
// vpcd_fast_card: a card for vsmartcard's vpcd driver that answers every
// command APDU at once with a fixed response (default 90 00). The card of the
// `--pcsc` latency bench (run-bench.sh --sections pcsc, README.md): with vicc
// (Python) a round trip through pcscd takes ~45 ms, so the difference between
// SCardTransmit alone and vscclient --pcsc (tens of µs) drowned in its noise.
//
// Why vicc is that slow: vpcd (ifd-vpcd.c) writes a frame's 2-byte length and
// its data with two send() calls and does not set TCP_NODELAY, so Nagle holds
// the data until the card ACKs the length, and the card's kernel delays that
// ACK (up to 40 ms). This card ACKs at once: TCP_QUICKACK after every read
// (the kernel leaves quick-ACK mode by itself, so it is set again each time),
// and TCP_NODELAY for its own answers, which it writes as one frame.
//
// Framing: libvscard's vscard/vpcd_frame.h (the codec vschost --export-pcsc
// uses). Control frames: GET ATR is answered with the ATR; power on, off and
// reset need no answer. Exits when vpcd closes the connection (pcscd stopped),
// as vicc does.
//
//   vpcd_fast_card --port PORT [--host 127.0.0.1] [--atr HEX] [--response HEX]
//                  [--plain-tcp 1]
// --plain-tcp 1 leaves both options off (as vicc does), to show what they save.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "vscard/apdu.h"
#include "vscard/vpcd_frame.h"

namespace {

// T=1 offered (TD1 -> TD2), TCK last: the ATR tests/integration/lib/vpcd_card.py uses.
constexpr const char* kDefaultAtr = "3B80800101";

bool plain_tcp = false;

void quick_ack(int fd) {
  if (plain_tcp) return;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

bool send_all(int fd, const std::vector<std::uint8_t>& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

bool parse_hex(const std::string& text, std::vector<std::uint8_t>& out) {
  auto bytes = vscard::from_hex(text);
  if (!bytes) return false;
  out = std::move(*bytes);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  std::vector<std::uint8_t> atr, response{0x90, 0x00};
  parse_hex(kDefaultAtr, atr);
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string opt = argv[i], value = argv[i + 1];
    bool ok = true;
    if (opt == "--port") port = std::atoi(value.c_str());
    else if (opt == "--host") host = value;
    else if (opt == "--atr") ok = parse_hex(value, atr) && !atr.empty();
    else if (opt == "--response") ok = parse_hex(value, response) && response.size() >= 2;
    else if (opt == "--plain-tcp") plain_tcp = value == "1";
    else ok = false;
    if (!ok) {
      std::fprintf(stderr, "usage: vpcd_fast_card --port PORT [--host ADDR] [--atr HEX] "
                           "[--response HEX (2 bytes or more)] [--plain-tcp 1]\n");
      return 2;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "vpcd_fast_card: --port 1..65535 and an IPv4 --host are required\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "vpcd_fast_card: connect %s:%d: %s\n", host.c_str(), port,
                 std::strerror(errno));
    return 1;
  }
  int one = 1;
  if (!plain_tcp) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::fprintf(stderr, "vpcd_fast_card: connected to %s:%d\n", host.c_str(), port);

  std::vector<std::uint8_t> atr_frame, response_frame, buffer(4096);
  if (vscard::vpcd::encode_frame(atr, atr_frame) != vscard::vpcd::EncodeError::None ||
      vscard::vpcd::encode_frame(response, response_frame) != vscard::vpcd::EncodeError::None) {
    std::fprintf(stderr, "vpcd_fast_card: ATR or response too long\n");
    return 2;
  }
  vscard::vpcd::FrameDecoder decoder;
  unsigned long long apdus = 0;
  for (;;) {
    quick_ack(fd);
    ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // vpcd closed: the card is "removed"
    quick_ack(fd);      // ACK the length now, so vpcd's Nagle releases the data
    vscard::Bytes input(buffer.data(), static_cast<std::size_t>(n));
    vscard::vpcd::Frame frame;
    for (;;) {
      auto status = decoder.next(input, frame);
      if (status == vscard::vpcd::FrameStatus::NeedMoreInput) break;
      if (status == vscard::vpcd::FrameStatus::Fatal) {
        std::fprintf(stderr, "vpcd_fast_card: %s\n",
                     std::string(vscard::vpcd::to_string(decoder.error())).c_str());
        return 1;
      }
      bool ok = true;
      if (frame.kind == vscard::vpcd::FrameKind::Apdu) {
        ++apdus;
        ok = send_all(fd, response_frame);
      } else if (frame.kind == vscard::vpcd::FrameKind::Control &&
                 frame.control == vscard::vpcd::Control::GetAtr) {
        ok = send_all(fd, atr_frame);
      }
      if (!ok) {
        std::fprintf(stderr, "vpcd_fast_card: send: %s\n", std::strerror(errno));
        return 1;
      }
    }
  }
  std::fprintf(stderr, "vpcd_fast_card: vpcd closed the connection after %llu APDUs\n", apdus);
  close(fd);
  return 0;
}
