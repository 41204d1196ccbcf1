// A minimal static parallel-for over rows with std::thread. Chunks are contiguous and fixed by
// (n, threads), so callers that keep per-row results get the same answer for any thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace qlab::datatypes {

// Hardware concurrency, at least 1.
inline int DefaultThreads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// Calls fn(begin, end) on disjoint contiguous chunks covering [0, n), on up to `num_threads`
// threads (<= 0: DefaultThreads()), giving each thread at least `min_per_thread` items so that
// small inputs do not pay for thread start-up. The calling thread runs the first chunk. Returns
// when every chunk is done. fn must be safe to call concurrently on disjoint ranges.
template <typename Fn>
void ParallelFor(int64_t n, int num_threads, int64_t min_per_thread, Fn&& fn) {
  if (n <= 0) return;
  if (num_threads <= 0) num_threads = DefaultThreads();
  const int64_t max_useful = std::max<int64_t>(1, n / std::max<int64_t>(1, min_per_thread));
  const int threads = static_cast<int>(std::min<int64_t>(num_threads, max_useful));
  if (threads <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  const int64_t chunk = n / threads, extra = n % threads;
  int64_t begin = 0;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int t = 0; t < threads; ++t) {
    const int64_t end = begin + chunk + (t < extra ? 1 : 0);
    ranges.emplace_back(begin, end);
    begin = end;
  }
  for (int t = 1; t < threads; ++t) {
    workers.emplace_back([&fn, r = ranges[t]] { fn(r.first, r.second); });
  }
  fn(ranges[0].first, ranges[0].second);
  for (std::thread& w : workers) w.join();
}

}  // namespace qlab::datatypes
