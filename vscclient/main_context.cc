// MainContextPoster and WorkerPool (see main_context.h).
#include "main_context.h"

#include <utility>

namespace vscclient {
namespace {

struct Posted {
  std::function<void()> fn;
  std::shared_ptr<void> keep;  // the poster's shared state
  const std::atomic<bool>* alive = nullptr;
};

gboolean run_posted(gpointer data) {
  auto* posted = static_cast<Posted*>(data);
  if (posted->alive->load()) posted->fn();
  return G_SOURCE_REMOVE;
}

void free_posted(gpointer data) { std::unique_ptr<Posted>(static_cast<Posted*>(data)); }

}  // namespace

MainContextPoster::MainContextPoster(GMainContext* context)
    : shared_(std::make_shared<Shared>()) {
  shared_->context = context;
}

MainContextPoster::~MainContextPoster() { shared_->alive.store(false); }

void MainContextPoster::post(std::function<void()> fn) const {
  auto posted = std::make_unique<Posted>();
  posted->fn = std::move(fn);
  posted->keep = shared_;
  posted->alive = &shared_->alive;
  // An idle source rather than g_main_context_invoke(): invoke would run the
  // function at once when called on the main thread, re-entering the caller.
  GSource* source = g_idle_source_new();
  g_source_set_priority(source, G_PRIORITY_DEFAULT);
  g_source_set_callback(source, run_posted, posted.release(), free_posted);
  g_source_attach(source, shared_->context);
  g_source_unref(source);
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
