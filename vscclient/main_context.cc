// SPDX-License-Identifier: LGPL-2.1-or-later
// MainContextPoster and WorkerPool (see main_context.h).
#include "main_context.h"

#include <utility>

namespace vscclient {
namespace {

struct PostSource {
  GSource base;
  MainContextPoster::Shared* shared;  // valid while the source is attached
};

bool has_posts(GSource* source) {
  auto* shared = reinterpret_cast<PostSource*>(source)->shared;
  std::lock_guard lock(shared->mutex);
  return !shared->queue.empty();
}

gboolean post_prepare(GSource* source, gint* timeout) {
  *timeout = -1;
  return has_posts(source);
}

gboolean post_check(GSource* source) { return has_posts(source); }

gboolean post_dispatch(GSource* source, GSourceFunc, gpointer) {
  // A posted function may destroy the poster: keep its state until we return.
  auto keep = reinterpret_cast<PostSource*>(source)->shared->self.lock();
  if (!keep) return G_SOURCE_CONTINUE;
  {
    std::lock_guard lock(keep->mutex);
    keep->running.swap(keep->queue);  // both keep their capacity
  }
  for (auto& fn : keep->running) {
    if (!keep->alive.load()) break;
    fn();
  }
  keep->running.clear();
  return G_SOURCE_CONTINUE;
}

GSourceFuncs post_funcs = {post_prepare, post_check, post_dispatch, nullptr, nullptr, nullptr};

}  // namespace

MainContextPoster::Shared::~Shared() {
  if (context != nullptr) g_main_context_unref(context);
}

MainContextPoster::MainContextPoster(GMainContext* context)
    : shared_(std::make_shared<Shared>()) {
  shared_->context = g_main_context_ref(context);
  shared_->self = shared_;
  GSource* source = g_source_new(&post_funcs, sizeof(PostSource));
  reinterpret_cast<PostSource*>(source)->shared = shared_.get();
  g_source_set_priority(source, G_PRIORITY_DEFAULT);
  g_source_set_name(source, "vscclient posted calls");
  g_source_attach(source, context);
  shared_->source = source;
}

MainContextPoster::~MainContextPoster() {
  shared_->alive.store(false);
  g_source_destroy(shared_->source);
  g_source_unref(shared_->source);
  std::vector<std::function<void()>> dropped;
  {
    std::lock_guard lock(shared_->mutex);
    dropped.swap(shared_->queue);
  }
  // `dropped` (and what its functions captured) is destroyed here, on the
  // context's thread.
}

void MainContextPoster::post(std::function<void()> fn) const {
  bool was_empty;
  {
    std::lock_guard lock(shared_->mutex);
    was_empty = shared_->queue.empty();
    shared_->queue.push_back(std::move(fn));
  }
  // The context re-runs prepare() after a wake-up and finds the queue full.
  // Posting from the context's own thread needs no wake-up: prepare() runs
  // before the next poll anyway.
  if (was_empty && !g_main_context_is_owner(shared_->context)) {
    g_main_context_wakeup(shared_->context);
  }
}

WorkerPool::WorkerPool(GMainContext* context, int max_threads) : poster_(context) {
  pool_ = g_thread_pool_new_full(run, this, free_job, max_threads, FALSE, nullptr);
}

WorkerPool::~WorkerPool() {
  // immediate=TRUE: queued jobs are freed unrun; wait=TRUE: running ones finish
  // before their captured state is destroyed with this object.
  g_thread_pool_free(pool_, TRUE, TRUE);
}

void WorkerPool::run(gpointer data, gpointer user_data) {
  std::unique_ptr<Job> job(static_cast<Job*>(data));
  auto* self = static_cast<WorkerPool*>(user_data);
  job->work();
  std::uint64_t lane = job->lane;
  // The job (with its done) travels back to the main thread.
  auto shared_job = std::shared_ptr<Job>(std::move(job));
  self->poster_.post([self, shared_job, lane] {
    if (shared_job->done) shared_job->done();
    self->finished(lane);
  });
}

void WorkerPool::free_job(gpointer data) { std::unique_ptr<Job>(static_cast<Job*>(data)); }

void WorkerPool::submit(std::uint64_t lane, std::function<void()> work,
                        std::function<void()> done) {
  auto job = std::make_unique<Job>();
  job->lane = lane;
  job->work = std::move(work);
  job->done = std::move(done);
  auto& queue = lanes_[lane];
  queue.push_back(nullptr);  // placeholder marks the lane busy or queued
  if (queue.size() == 1) {
    start(std::move(job));
  } else {
    queue.back() = std::move(job);
  }
}

void WorkerPool::start(std::unique_ptr<Job> job) {
  g_thread_pool_push(pool_, job.release(), nullptr);
}

void WorkerPool::finished(std::uint64_t lane) {
  auto it = lanes_.find(lane);
  if (it == lanes_.end()) return;
  it->second.pop_front();  // the running job's placeholder
  if (it->second.empty()) {
    lanes_.erase(it);
    return;
  }
  start(std::move(it->second.front()));
}

std::size_t WorkerPool::pending(std::uint64_t lane) const {
  auto it = lanes_.find(lane);
  return it == lanes_.end() ? 0 : it->second.size();
}

}  // namespace vscclient
