//===- ParallelFor.h - independent host work spread over the cores -*- C++ -*-===//
//
// For CPU references and calibration that do the same arithmetic for many
// independent pieces (heads, pages): fn(i) for i in [0, count), each index
// once, on up to the host's cores. fn must not throw, and what it writes for
// one index must not overlap another's.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_SUPPORT_PARALLELFOR_H
#define TURBO_SUPPORT_PARALLELFOR_H

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace turbo {

template <typename Fn> void parallelFor(int64_t count, Fn &&fn) {
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t i = next++; i < count; i = next++)
      fn(i);
  };
  const int64_t workers =
      std::clamp<int64_t>(int64_t(std::thread::hardware_concurrency()), 1, std::max<int64_t>(count, 1));
  std::vector<std::thread> threads;
  for (int64_t i = 1; i < workers; ++i)
    threads.emplace_back(work);
  work();
  for (std::thread &thread : threads)
    thread.join();
}

} // namespace turbo

#endif // TURBO_SUPPORT_PARALLELFOR_H
