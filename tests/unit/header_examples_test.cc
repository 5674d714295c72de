// SPDX-License-Identifier: LGPL-2.1-or-later
// The usage examples in libvscard's installed headers, mirrored line for line
// so that they compile against the public API only (vscard/vscard.h, linked
// with the shared library). When an example in a header changes, change it
// here: a header example that no longer compiles fails this build.
#include <gtest/gtest.h>

#include <optional>

#include "vscard/vscard.h"

namespace {

struct FakeTransport {
  void write(vscard::Bytes) {}
};

// client_session.h
[[maybe_unused]] void client_session_example() {
  using namespace vscard;
  ClientSession::Options options;
  FakeTransport transport;
  ClientSession session(options, [&](const ClientEvent& e) { (void)e; });
  auto reader = session.add_reader("Virtual Reader");
  (void)reader;
  Bytes out = session.pending_output();  // or let a SessionLink write it
  transport.write(out); session.consume_output(out.size());
}

// connection.h
[[maybe_unused]] void connection_example(vscard::Connection* conn, vscard::ClientSession& session) {
  conn->start([&](vscard::Bytes data) { session.receive(data); },
              [&](const vscard::CloseReason& why) { g_message("%s", why.message.c_str()); });
}

// connector.h (with session_link.h's SessionLink)
[[maybe_unused]] void connector_example(const vscard::Connector::Options& options,
                                        vscard::ClientSession& session) {
  std::unique_ptr<vscard::Connection> conn;
  std::optional<vscard::SessionLink<vscard::ClientSession>> link;
  std::optional<vscard::Connector> holder;
  holder.emplace(
      options,
      [&](std::unique_ptr<vscard::Connection> c) {
        link.reset();  // the old link goes before its connection
        conn = std::move(c);
        session.restart();
        link.emplace(session, *conn, [&](const vscard::CloseReason&) {
          holder->reconnect();  // when the connection closes
        });
      },
      [&](const GError* e, std::optional<std::chrono::milliseconds> retry) {
        (void)retry;
        g_warning("%s", e->message);
      });
  vscard::Connector& connector = *holder;
  connector.start();
  // On the session's HostInit event (the host's Init arrived): a loss of
  // this connection retries after backoff.initial, however short it was.
  connector.session_established();
}

// session_link.h
[[maybe_unused]] void session_link_example(vscard::ClientSession& session,
                                           vscard::Connection* connection,
                                           vscard::Connector& connector) {
  vscard::SessionLink link(session, *connection, [&](const vscard::CloseReason& r) {
    g_message("host went away: %s", r.message.c_str()); connector.reconnect(); });
  session.add_reader("Reader 0");  // ReaderAdd goes out once the host's Init is in
}

// decoder.h
[[maybe_unused]] void decoder_example(vscard::Bytes bytes_from_socket) {
  vscard::Decoder decoder;
  vscard::Bytes input = bytes_from_socket;
  for (;;) {
    vscard::Decoded d = decoder.next(input);   // advances `input`
    if (d.status == vscard::DecodeStatus::NeedMoreInput) break;
  }
}

// glib_ptr.h and listener.h
[[maybe_unused]] int listener_example(const vscard::Address& address,
                                      vscard::Listener::Options options,
                                      vscard::Listener::AcceptHandler on_accept,
                                      vscard::Listener::RejectHandler on_reject) {
  {
    vscard::GErrorPtr error;
    auto listener = vscard::Listener::create(address, options, on_accept, on_reject, error.out());
    if (!listener) g_printerr("vschost: %s\n", error->message);
  }
  std::optional<vscard::Address> maybe = address;
  std::optional<vscard::Address>* address_ptr = &maybe;
  auto& address_opt = *address_ptr;
  {
    vscard::GErrorPtr error;
    auto listener = vscard::Listener::create(*address_opt, {}, on_accept, on_reject, error.out());
    if (!listener) { g_printerr("vschost: %s\n", error.message()); return 1; }
  }
  return 0;
}

// overloaded.h
[[maybe_unused]] void overloaded_example(const vscard::ClientEvent& event) {
  auto answer = [](const vscard::client_event::ApduReceived&) {};
  std::visit(vscard::Overloaded{
                 [&](const vscard::client_event::ApduReceived& e) { answer(e); },
                 [&](const auto&) {},
             },
             event);
}

// The one example that runs: decoder.h's loop over two messages.
TEST(HeaderExamples, DecoderLoopTakesEveryMessage) {
  std::vector<std::uint8_t> wire;
  ASSERT_TRUE(vscard::encode({vscard::kUndefinedReaderId, vscard::Init{}}, wire));
  ASSERT_TRUE(vscard::encode({0, vscard::Flush{}}, wire));
  vscard::Decoder decoder;
  vscard::Bytes input = wire;
  int messages = 0;
  for (;;) {
    vscard::Decoded d = decoder.next(input);
    if (d.status == vscard::DecodeStatus::NeedMoreInput) break;
    ASSERT_EQ(d.status, vscard::DecodeStatus::Message);
    ++messages;
  }
  EXPECT_EQ(messages, 2);
}

}  // namespace
