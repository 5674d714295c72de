// SPDX-License-Identifier: LGPL-2.1-or-later
// A connection made by Connector stays open while idle, whatever the connect
// timeout: GSocketClient leaves its timeout on the socket as an I/O timeout,
// which once ended every idle vscclient session after 20 s.
#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "vscard/connector.h"
#include "vscard/listener.h"

namespace vscard {
namespace {

void run_for(GMainContext* context, guint ms) {
  bool done = false;
  GSource* timer = g_timeout_source_new(ms);
  g_source_set_callback(
      timer, [](gpointer data) { *static_cast<bool*>(data) = true; return G_SOURCE_REMOVE; }, &done,
      nullptr);
  g_source_attach(timer, context);
  while (!done) g_main_context_iteration(context, TRUE);
  g_source_unref(timer);
}

TEST(ConnectionIdle, OutlivesTheConnectTimeout) {
  GMainContext* context = g_main_context_default();
  std::unique_ptr<Connection> server_side;
  GError* error = nullptr;
  auto listener = Listener::create(
      Address::tcp("127.0.0.1", 0), {},
      [&](std::unique_ptr<Connection> c) {
        server_side = std::move(c);
        server_side->start([](Bytes) {}, [](const CloseReason&) {});
      },
      [](const std::string&, const GError*) {}, &error);
  ASSERT_TRUE(listener) << (error ? error->message : "");

  Connector::Options options;
  options.address = Address::tcp("127.0.0.1", listener->port());
  options.timeout = std::chrono::seconds(1);
  options.max_attempts = 1;
  std::unique_ptr<Connection> client_side;
  std::optional<std::string> closed;
  Connector connector(
      options,
      [&](std::unique_ptr<Connection> c) {
        client_side = std::move(c);
        client_side->start([](Bytes) {}, [&](const CloseReason& r) { closed = r.message; });
      },
      [](const GError*, std::optional<std::chrono::milliseconds>) {});
  connector.start();
  for (int i = 0; i < 100 && !(client_side && server_side); ++i) run_for(context, 20);
  ASSERT_TRUE(client_side && server_side);

  // Idle for well over the 1 s connect timeout.
  run_for(context, 2500);
  EXPECT_FALSE(closed.has_value()) << *closed;

  // And still usable.
  const std::uint8_t ping[] = {1, 2, 3};
  EXPECT_TRUE(client_side->write(ping));
}

}  // namespace
}  // namespace vscard
