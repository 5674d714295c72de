// SPDX-License-Identifier: LGPL-2.1-or-later
// MainContextPoster and WorkerPool (vscclient/main_context.h): the promises the
// card sources rely on — posted functions run later on the context, in order,
// from any thread, never after the poster is gone.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "main_context.h"

namespace vscclient {
namespace {

class MainContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    context_ = g_main_context_new();
    g_main_context_push_thread_default(context_);
  }
  void TearDown() override {
    g_main_context_pop_thread_default(context_);
    g_main_context_unref(context_);
  }
  // Iterates (blocking in poll between events) until `done`. False if it took
  // a 5 s timer to get there: a post that did not wake the context.
  bool run_until(const std::function<bool()>& done) {
    bool timed_out = false;
    GSource* timer = g_timeout_source_new_seconds(5);
    g_source_set_callback(timer, +[](gpointer flag) -> gboolean {
      *static_cast<bool*>(flag) = true;
      return G_SOURCE_REMOVE;
    }, &timed_out, nullptr);
    g_source_attach(timer, context_);
    while (!done() && !timed_out) g_main_context_iteration(context_, TRUE);
    g_source_destroy(timer);
    g_source_unref(timer);
    return done() && !timed_out;
  }
  void drain() {
    while (g_main_context_iteration(context_, FALSE)) {
    }
  }
  GMainContext* context_ = nullptr;
};

TEST_F(MainContextTest, PostRunsLaterInOrder) {
  MainContextPoster poster(context_);
  std::vector<int> order;
  poster.post([&] { order.push_back(1); });
  poster.post([&] {
    order.push_back(2);
    poster.post([&] { order.push_back(4); });  // from inside a posted function
  });
  poster.post([&] { order.push_back(3); });
  EXPECT_TRUE(order.empty());  // never inside post()
  ASSERT_TRUE(run_until([&] { return order.size() == 4; }));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

TEST_F(MainContextTest, PostsFromOtherThreadsWakeTheContext) {
  MainContextPoster poster(context_);
  constexpr int kThreads = 4, kEach = 500;
  std::atomic<int> ran{0};
  std::vector<int> last(kThreads, -1);
  bool in_order = true;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        poster.post([&, t, i] {
          if (last[t] != i - 1) in_order = false;
          last[t] = i;
          ++ran;
        });
      }
    });
  }
  // The main context blocks in poll between posts: each wake-up must arrive.
  EXPECT_TRUE(run_until([&] { return ran.load() == kThreads * kEach; }));
  for (auto& th : threads) th.join();
  EXPECT_TRUE(in_order);
}

TEST_F(MainContextTest, NothingRunsAfterThePosterIsDestroyed) {
  bool ran = false;
  auto poster = std::make_unique<MainContextPoster>(context_);
  poster->post([&] { ran = true; });
  poster.reset();
  drain();
  EXPECT_FALSE(ran);
}

TEST_F(MainContextTest, APostedFunctionMayDestroyThePoster) {
  auto poster = std::make_unique<MainContextPoster>(context_);
  bool second = false, first = false;
  poster->post([&] {
    first = true;
    poster.reset();
  });
  poster->post([&] { second = true; });
  ASSERT_TRUE(run_until([&] { return first; }));
  drain();
  EXPECT_FALSE(second);
}

TEST_F(MainContextTest, WorkerPoolRunsWorkOffThreadAndDoneOnTheContext) {
  WorkerPool pool(context_, 2);
  const auto main_thread = std::this_thread::get_id();
  std::vector<int> done_order;
  std::atomic<bool> work_off_thread{true};
  for (int i = 0; i < 50; ++i) {
    pool.submit(7, [&] { if (std::this_thread::get_id() == main_thread) work_off_thread = false; },
                [&, i] {
                  EXPECT_EQ(std::this_thread::get_id(), main_thread);
                  done_order.push_back(i);
                });
  }
  ASSERT_TRUE(run_until([&] { return done_order.size() == 50; }));
  EXPECT_TRUE(work_off_thread.load());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(done_order[static_cast<std::size_t>(i)], i);  // one lane: in order
}

}  // namespace
}  // namespace vscclient
