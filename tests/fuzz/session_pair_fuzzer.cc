// SPDX-License-Identifier: LGPL-2.1-or-later
// Fuzz target: ClientSession and HostSession talking to each other, with the
// fuzzer as the network and both applications.
//
// Each step of the input is one operation: a command on either session, moving
// some of one side's pending output to the other (split where the fuzzer says),
// raw bytes injected into either side's input (a hostile or broken peer), or a
// reconnection (client restart + a fresh host). Checked:
//  - neither session ever emits bytes that our own Decoder finds malformed;
//  - while nothing was injected, neither side closes the session; with
//    SESSION_PAIR_STRICT=1 neither reports a ProtocolViolation either (off by
//    default: the QEMU-policy host flags races QEMU itself tolerates, e.g. an ATR
//    for a reader whose predecessor's ReaderRemove crossed the new ReaderAdd);
//  - every view in an event lies in memory that is alive (ASan), and the
//    handlers may call back into the session that called them.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <memory>
#include <optional>

#include "fuzz_check.h"
#include "vscard/client_session.h"
#include "vscard/host_session.h"

using namespace vscard;

namespace {

constexpr std::array<const char*, 4> kReaderNames{"Virtual Reader", "PC/SC reader 0", "",
                                                  "Lecteur \xC3\xA9"};

// Decodes everything one side sends; our encoder must only produce messages.
class OutputChecker {
 public:
  explicit OutputChecker(const char* who) : who_(who) {}
  void check(Bytes bytes) {
    static const bool trace = std::getenv("SESSION_PAIR_TRACE") != nullptr;
    while (!bytes.empty()) {
      Decoded d = decoder_.next(bytes);
      if (d.status == DecodeStatus::NeedMoreInput) break;
      FUZZ_CHECK(d.status == DecodeStatus::Message);
      if (trace) {
        std::fprintf(stderr, "  %s sends %s reader %u\n", who_,
                     std::string(to_string(static_cast<MessageType>(d.header.type))).c_str(),
                     d.header.reader_id);
      }
    }
  }
  void reset() { decoder_.reset(); }

 private:
  const char* who_;
  Decoder decoder_;
};

bool strict() {
  static const bool value = std::getenv("SESSION_PAIR_STRICT") != nullptr;
  return value;
}

struct Harness {
  FuzzedDataProvider& fdp;
  HostPolicy policy;
  bool injected = false;  // raw bytes went in: violations are then expected
  bool card_control_sent = false;
  std::vector<ReaderId> host_readers_seen;
  std::vector<ReaderHandle> owed;  // client readers with an APDU to answer

  std::unique_ptr<ClientSession> client;
  std::unique_ptr<HostSession> host;
  OutputChecker client_out{"client"}, host_out{"host"};

  explicit Harness(FuzzedDataProvider& p) : fdp(p) {
    policy = fdp.ConsumeBool() ? HostPolicy::qemu()
                               : HostPolicy::multi(fdp.ConsumeIntegralInRange<std::uint32_t>(1, 4));
    ClientSession::Options options;
    options.capabilities = fdp.ConsumeBool() ? kCapabilityReconnect : 0;
    if (fdp.ConsumeBool()) options.capabilities |= kCapabilityCardControl;
    client = std::make_unique<ClientSession>(options, [this](const ClientEvent& e) { on_client(e); });
    new_host();
  }

  void new_host() {
    host = std::make_unique<HostSession>(policy, [this](const HostEvent& e) { on_host(e); });
    host_out.reset();
    host_readers_seen.clear();
  }

  void on_client(const ClientEvent& e) {
    if (const auto* a = std::get_if<client_event::ApduReceived>(&e)) {
      owed.push_back(a->reader);
      // Sometimes answer from inside the handler, as a synchronous card would.
      if (!a->apdu.empty() && a->apdu[0] == 0x80) {
        const std::uint8_t ok[] = {0x90, 0x00};
        FUZZ_CHECK(client->send_apdu_response(a->reader, ok));
        owed.pop_back();
      }
    } else if (const auto* cc = std::get_if<client_event::CardControlReceived>(&e)) {
      // Power on / warm reset: answer with a fuzzed ATR, as a card source would
      // (or sometimes not at all: the host then keeps refusing APDUs).
      FUZZ_CHECK(client->negotiated(kCapabilityCardControl));
      if (card_control_wants_atr(cc->event) && fdp.ConsumeBool()) {
        const auto atr = some_bytes(48);
        (void)client->send_reset_atr(cc->reader, atr);
      }
    } else if (const auto* v = std::get_if<client_event::ProtocolViolation>(&e)) {
      if (!strict()) return;
      // A power event crossing our CardRemove on the wire (docs/protocol.md).
      if (v->what.find("reader without a card") != std::string_view::npos) return;
      if (!injected) std::fprintf(stderr, "client violation: %.*s\n", int(v->what.size()), v->what.data());
      FUZZ_CHECK(injected);
    } else if (const auto* c = std::get_if<client_event::Closed>(&e)) {
      if (!injected) std::fprintf(stderr, "client closed: %.*s\n", int(c->reason.size()), c->reason.data());
      FUZZ_CHECK(injected);
    }
  }

  void on_host(const HostEvent& e) {
    if (const auto* r = std::get_if<host_event::ReaderAdded>(&e)) {
      host_readers_seen.push_back(r->id);
    } else if (const auto* v = std::get_if<host_event::ProtocolViolation>(&e)) {
      // QEMU serves one reader per connection: our client may add a second one
      // (it then gets ReaderRejected), and the QEMU-policy host reports it.
      if (policy.mode == HostPolicy::Mode::Qemu && v->what.starts_with("second ReaderAdd")) return;
      // A reset's ATR crossing a CardRemove + new card (docs/protocol.md, CardControl).
      if (card_control_sent && v->what.starts_with("ATR for a reader that has a card")) return;
      if (!strict()) return;
      if (!injected) std::fprintf(stderr, "host violation: %.*s\n", int(v->what.size()), v->what.data());
      FUZZ_CHECK(injected);
    } else if (const auto* c = std::get_if<host_event::Closed>(&e)) {
      if (!injected) std::fprintf(stderr, "host closed: %.*s\n", int(c->reason.size()), c->reason.data());
      FUZZ_CHECK(injected);
    }
  }

  ReaderHandle pick_handle() {
    const std::size_t n = client->reader_count();
    const auto h = static_cast<ReaderHandle>(n == 0 ? 0 : fdp.ConsumeIntegralInRange<std::size_t>(0, n));
    static const bool trace = std::getenv("SESSION_PAIR_TRACE") != nullptr;
    if (trace) std::fprintf(stderr, "  handle %u\n", h);
    return h;
  }
  ReaderId pick_id() {
    if (!host_readers_seen.empty() && fdp.ConsumeBool()) {
      return host_readers_seen[fdp.ConsumeIntegralInRange<std::size_t>(0, host_readers_seen.size() - 1)];
    }
    return fdp.ConsumeIntegral<ReaderId>();
  }
  std::vector<std::uint8_t> some_bytes(std::size_t max) {
    return fdp.ConsumeBytes<std::uint8_t>(fdp.ConsumeIntegralInRange<std::size_t>(0, max));
  }

  // Moves up to `n` pending bytes from one side to the other (n == 0: all).
  void pump_client_to_host(std::size_t n) {
    Bytes out = client->pending_output();
    if (n == 0 || n > out.size()) n = out.size();
    if (n == 0) return;
    std::vector<std::uint8_t> copy(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    client_out.check(copy);
    client->consume_output(n);
    if (!host->closed()) host->receive(copy);
  }
  void pump_host_to_client(std::size_t n) {
    Bytes out = host->pending_output();
    if (n == 0 || n > out.size()) n = out.size();
    if (n == 0) return;
    std::vector<std::uint8_t> copy(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    host_out.check(copy);
    host->consume_output(n);
    if (!client->closed()) client->receive(copy);
  }

  void reconnect() {
    client->restart();
    client_out.reset();
    owed.clear();
    new_host();
  }

  void step() {
    const int op = fdp.ConsumeIntegralInRange<int>(0, 16);
    // SESSION_PAIR_TRACE=1 prints the schedule when replaying a crash input.
    static const bool trace = std::getenv("SESSION_PAIR_TRACE") != nullptr;
    if (trace) std::fprintf(stderr, "op %d (client readers %zu)\n", op, client->reader_count());
    switch (op) {
      case 0: client->add_reader(kReaderNames[fdp.ConsumeIntegralInRange<std::size_t>(0, 3)]); break;
      case 1: {
        const auto atr = some_bytes(48);
        (void)client->insert_card(pick_handle(), atr);
        break;
      }
      case 2: (void)client->remove_card(pick_handle()); break;
      case 3: (void)client->remove_reader(pick_handle()); break;
      case 4:
        if (!owed.empty()) {
          const auto response = some_bytes(300);
          (void)client->send_apdu_response(owed.front(), response);
          owed.erase(owed.begin());
        }
        break;
      case 5:
        if (!owed.empty()) {
          (void)client->send_error(owed.front(), ErrorCode::General);
          owed.erase(owed.begin());
        }
        break;
      case 6: reconnect(); break;
      case 7: {
        const auto apdu = some_bytes(300);
        (void)host->send_apdu(pick_id(), apdu);
        break;
      }
      case 8: (void)host->flush(pick_id()); break;
      case 9: {
        const std::string h = fdp.ConsumeRandomLengthString(130);
        const std::string p = fdp.ConsumeRandomLengthString(10);
        (void)host->request_reconnect(h, p);
        break;
      }
      case 10: pump_client_to_host(fdp.ConsumeIntegralInRange<std::size_t>(1, 40)); break;
      case 11: pump_host_to_client(fdp.ConsumeIntegralInRange<std::size_t>(1, 40)); break;
      case 12: {
        injected = true;
        const auto junk = some_bytes(200);
        if (!host->closed()) host->receive(junk);
        break;
      }
      case 13: {
        injected = true;
        const auto junk = some_bytes(200);
        if (!client->closed()) client->receive(junk);
        break;
      }
      case 14: {
        // Codes 0 and 7 are outside CardControlEvent: the host must refuse them.
        const auto code = fdp.ConsumeIntegralInRange<std::uint32_t>(0, 7);
        const CardControlResult r = host->send_card_control(pick_id(), static_cast<CardControlEvent>(code));
        if (r == CardControlResult::Sent) {
          FUZZ_CHECK(is_known_card_control_event(code));
          FUZZ_CHECK(host->client_capabilities().has(kCapabilityCardControl));
          card_control_sent = true;
        }
        break;
      }
      default:
        pump_client_to_host(0);
        pump_host_to_client(0);
    }
  }

  void settle() {
    for (int i = 0; i < 16; ++i) {
      if (client->pending_output().empty() && host->pending_output().empty()) break;
      pump_client_to_host(0);
      pump_host_to_client(0);
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  Harness h(fdp);
  for (int i = 0; i < 200 && fdp.remaining_bytes() > 0; ++i) h.step();
  h.settle();
  return 0;
}
