// SPDX-License-Identifier: LGPL-2.1-or-later
// A GoogleTest fixture with a private GMainContext pushed as thread-default, and
// a helper that iterates it until a condition holds. The iteration limit is a
// safety net so a broken test fails instead of hanging, not a timing assertion.
#pragma once

#include <gio/gio.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>

namespace vscard::testing {

class MainLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    context_ = g_main_context_new();
    g_main_context_push_thread_default(context_);
  }
  void TearDown() override {
    // Let cancelled operations report back before the context goes.
    for (int i = 0; i < 100 && g_main_context_iteration(context_, FALSE); ++i) {
    }
    g_main_context_pop_thread_default(context_);
    g_main_context_unref(context_);
  }

  // Runs the loop until `done()` is true; false if `limit` passed first.
  bool run_until(const std::function<bool()>& done, std::chrono::seconds limit = std::chrono::seconds(20)) {
    const gint64 deadline = g_get_monotonic_time() + limit.count() * G_USEC_PER_SEC;
    while (!done()) {
      if (g_get_monotonic_time() > deadline) return false;
      GSource* tick = g_timeout_source_new(50);  // wakes the poll to re-check the deadline
      g_source_set_callback(tick, [](gpointer) { return G_SOURCE_REMOVE; }, nullptr, nullptr);
      g_source_attach(tick, context_);
      g_main_context_iteration(context_, TRUE);
      g_source_destroy(tick);
      g_source_unref(tick);
    }
    return true;
  }
  // Runs the loop for a while (to show that nothing happens).
  void run_for(std::chrono::milliseconds duration) {
    const gint64 end = g_get_monotonic_time() + duration.count() * 1000;
    run_until([&] { return g_get_monotonic_time() >= end; });
  }

  GMainContext* context_ = nullptr;
};

}  // namespace vscard::testing
