// SPDX-License-Identifier: LGPL-2.1-or-later
// worker_hop: the cost of the one thread hop a bridged APDU takes, alone.
// vscclient runs each card operation as a job on its WorkerPool
// (vscclient/main_context.h: a GThreadPool lane, then the result posted back
// to the main GMainContext). This times an empty job submitted from a running
// main loop until its `done` runs there, back to back, so the figure can be
// set beside the loopback floor and libcacard's own time (README.md).
//
//   worker_hop --count C
#include <glib.h>

#include <cstdio>
#include <string>

#include "bench_util.h"
#include "main_context.h"

int main(int argc, char** argv) {
  std::size_t count = 20000, warmup = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--count") count = std::stoul(argv[i + 1]);
  }
  GMainContext* context = g_main_context_default();
  GMainLoop* loop = g_main_loop_new(context, FALSE);
  vscclient::WorkerPool pool(context, 4);  // as CacardSource makes it
  bench::Latencies lat;
  lat.reserve(count);
  std::size_t done = 0;
  std::uint64_t t0 = 0, start = 0, elapsed = 0;
  std::function<void()> next = [&] {
    t0 = bench::now_ns();
    pool.submit(0, [] {}, [&] {
      if (done >= warmup) lat.add(bench::now_ns() - t0);
      if (++done == warmup) start = bench::now_ns();
      if (done == warmup + count) {
        elapsed = bench::now_ns() - start;
        g_main_loop_quit(loop);
      } else {
        next();
      }
    });
  };
  g_idle_add(+[](gpointer n) -> gboolean {
    (*static_cast<std::function<void()>*>(n))();
    return G_SOURCE_REMOVE;
  }, &next);
  g_main_loop_run(loop);
  bench::JsonObject json;
  json.str("bench", "worker_hop")
      .integer("count", static_cast<long long>(count))
      .num("per_s", static_cast<double>(count) * 1e9 / static_cast<double>(elapsed))
      .latencies("latency", lat);
  std::printf("%s\n", json.text().c_str());
  g_main_loop_unref(loop);
  return 0;
}
