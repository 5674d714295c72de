// SPDX-License-Identifier: LGPL-2.1-or-later
// Handing work from worker threads to the main GMainContext.
//
// DESIGN: blocking card I/O runs on worker threads and its results are
// marshalled to the main context; the main loop never blocks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <deque>
#include <vector>

#include <glib.h>

namespace vscclient {

// Posts functions to a GMainContext from any thread. They always run later
// (never inside post()), in posting order, and are dropped once the poster
// is destroyed, so a callback never reaches an object that is gone.
//
// One GSource for the poster's life drains a locked queue: posting is a push
// and, when the queue was empty, one wake-up of the context. (A new idle
// source per post cost an allocation and the context's lock on both threads
// for every APDU answer: tests/bench, issue 10.) Destroy it on the context's
// thread.
class MainContextPoster {
 public:
  explicit MainContextPoster(GMainContext* context);
  ~MainContextPoster();
  MainContextPoster(const MainContextPoster&) = delete;
  MainContextPoster& operator=(const MainContextPoster&) = delete;

  void post(std::function<void()> fn) const;
  GMainContext* context() const { return shared_->context; }

  struct Shared {
    std::atomic<bool> alive{true};
    GMainContext* context = nullptr;  // referenced
    GSource* source = nullptr;        // ours; destroyed with the poster
    std::weak_ptr<Shared> self;
    std::mutex mutex;
    std::vector<std::function<void()>> queue;  // posted, not yet run (mutex)
    std::vector<std::function<void()>> running;  // being run (context thread only)
    ~Shared();
  };

 private:
  std::shared_ptr<Shared> shared_;
};

// A pool of worker threads with lanes: jobs in the same lane (one reader) run
// one at a time, in order; different lanes run in parallel. Each job's `work`
// runs on a worker, then its `done` on the main context. Use from the main
// thread only (submit and destruction).
class WorkerPool {
 public:
  WorkerPool(GMainContext* context, int max_threads);
  // Drops queued jobs and waits for running ones; no `done` runs afterwards.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(std::uint64_t lane, std::function<void()> work, std::function<void()> done);
  // Jobs submitted or running in `lane`.
  std::size_t pending(std::uint64_t lane) const;

 private:
  struct Job {
    std::uint64_t lane = 0;
    std::function<void()> work;
    std::function<void()> done;
  };
  static void run(gpointer data, gpointer user_data);
  static void free_job(gpointer data);
  void start(std::unique_ptr<Job> job);
  void finished(std::uint64_t lane);

  MainContextPoster poster_;
  GThreadPool* pool_ = nullptr;
  // Per lane: jobs waiting behind the running one (front is running).
  std::map<std::uint64_t, std::deque<std::unique_ptr<Job>>> lanes_;
};

}  // namespace vscclient
