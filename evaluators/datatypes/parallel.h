// A minimal parallel-for over rows with std::thread and dynamic chunking (an atomic cursor), so
// a thread slowed by other processes on the machine does not hold the others up. Callers that
// keep per-row results (or order-free integer sums) get identical answers for any thread count
// and any interleaving.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace qlab::datatypes {

// Hardware concurrency, at least 1 (the process's at its first call).
inline int DefaultThreads() {
  // Asked once: hardware_concurrency() is a system call (sched_getaffinity), microseconds that
  // a caller timing a few-microsecond kernel would measure.
  static const int threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return threads;
}

// Number of threads ParallelForChunks will use for n items.
inline int ParallelThreads(int64_t n, int num_threads, int64_t min_per_thread) {
  if (num_threads <= 0) num_threads = DefaultThreads();
  const int64_t max_useful = std::max<int64_t>(1, n / std::max<int64_t>(1, min_per_thread));
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads, max_useful)));
}

// Calls fn(thread, begin, end) on disjoint chunks covering [0, n), on ParallelThreads(...)
// threads numbered 0..threads-1 (the calling thread is 0). Chunks of about n / (8 * threads)
// items are handed out in order as threads become free. Returns when all are done. fn must be
// safe to call concurrently for different threads.
template <typename Fn>
void ParallelForChunks(int64_t n, int num_threads, int64_t min_per_thread, Fn&& fn) {
  if (n <= 0) return;
  const int threads = ParallelThreads(n, num_threads, min_per_thread);
  if (threads == 1) {
    fn(0, int64_t{0}, n);
    return;
  }
  const int64_t chunk = std::max<int64_t>(1, n / (8 * static_cast<int64_t>(threads)));
  std::atomic<int64_t> cursor{0};
  auto run = [&](int thread) {
    for (;;) {
      const int64_t begin = cursor.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= n) return;
      fn(thread, begin, std::min(n, begin + chunk));
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) workers.emplace_back(run, t);
  run(0);
  for (std::thread& w : workers) w.join();
}

// ParallelForChunks without the thread number: fn(begin, end).
template <typename Fn>
void ParallelFor(int64_t n, int num_threads, int64_t min_per_thread, Fn&& fn) {
  ParallelForChunks(n, num_threads, min_per_thread,
                    [&fn](int, int64_t begin, int64_t end) { fn(begin, end); });
}

}  // namespace qlab::datatypes
