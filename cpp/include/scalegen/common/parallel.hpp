#pragma once
/// Threading helpers: every parallel region takes its thread count explicitly.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <utility>

#include "scalegen/common/fpu.hpp"

namespace scalegen {

/// Threads a kernel may use for a request of `n_threads` (>= 1): at most the processors
/// available, 1 in a forked child,
/// because libgomp's thread pool does not survive fork().
int resolve_threads(int n_threads);

/// True in a process forked after this library was loaded.
bool in_forked_child();

/// Diagnostic: how many distinct threads executed a parallel loop of `n_iter` iterations.
int probe_parallel_threads(int n_threads, int n_iter);

/// Diagnostic: how many distinct threads ran iterations of the last parallel_for.
int last_parallel_threads();

namespace detail {
/// Records which threads ran a parallel_for (bit i: OpenMP thread i, up to 64).
void record_parallel_threads(std::uint64_t mask);
int current_thread_num();
}  // namespace detail

/// Keeps the first exception thrown inside a parallel region so it can be rethrown outside.
class ExceptionCollector {
 public:
  /// Runs f(), capturing any exception instead of letting it escape the region.
  template <class F>
  void run(F&& f) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
  /// True once an exception has been captured (lets loops stop early).
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  /// Rethrows the captured exception, if any.
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::exception_ptr error_;
};

/// How parallel_for hands out iterations: dynamic, one at a time to the next idle thread;
/// fixed, thread t runs the t-th contiguous share, so that repeated calls put the same work
/// (and the data it reads) on the same core.
enum class Schedule { dynamic, fixed };

/// Calls fn(i) for i in [0, n) on `n_threads` threads; the first exception thrown by fn is
/// rethrown on the calling thread after the loop.
template <class F>
void parallel_for(int n_threads, std::int64_t n, F&& fn, Schedule schedule = Schedule::dynamic) {
  ExceptionCollector errors;
  std::atomic<std::uint64_t> ran{0};
  const int threads = resolve_threads(n_threads);
  const auto body = [&](std::int64_t i) {
    ran.fetch_or(std::uint64_t(1) << (detail::current_thread_num() & 63), std::memory_order_relaxed);
    errors.run([&] { fn(i); });
  };
  if (schedule == Schedule::fixed) {
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && n > 1)
    for (std::int64_t i = 0; i < n; ++i) body(i);
  } else {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && n > 1)
    for (std::int64_t i = 0; i < n; ++i) body(i);
  }
  detail::record_parallel_threads(ran.load());
  errors.rethrow();
}

/// parallel_for whose iterations run with subnormal floats flushed to zero (MXCSR is per
/// thread): the float kernels of the mixtures and the networks run this way.
template <class F>
void parallel_for_flushed(int n_threads, std::int64_t n, F&& fn, Schedule schedule = Schedule::dynamic) {
  parallel_for(
      n_threads, n,
      [&](std::int64_t i) {
        const FlushSubnormals flush;
        fn(i);
      },
      schedule);
}

/// [begin, end) of part p when n items are split into `parts` ranges as equal as possible.
inline std::pair<std::int64_t, std::int64_t> split_range(std::int64_t n, std::int64_t parts, std::int64_t p) {
  return {n * p / parts, n * (p + 1) / parts};
}

/// A reduction whose result does not depend on the thread count: part(slot, p) computes part
/// p of `parts` into the partial result numbered `slot` (subnormals flushed), then merge(slot,
/// p) folds it into the total on the calling thread, in the order p = 0, 1, ... What a part
/// covers is fixed by the caller from the data's size alone (split_range, or fixed blocks),
/// never from the thread count, so the same sums are added in the same order: the same bits
/// for any n_threads. At most `max_alive` partials exist at once (slots [0, max_alive)): the
/// parts run in waves of that many, bounding the memory partials take.
template <class Part, class Merge>
void parallel_reduce_ordered(int n_threads, std::int64_t parts, Part&& part, Merge&& merge,
                             std::int64_t max_alive = std::numeric_limits<std::int64_t>::max()) {
  const std::int64_t wave = std::max<std::int64_t>(1, std::min(max_alive, parts));
  for (std::int64_t p0 = 0; p0 < parts; p0 += wave) {
    const std::int64_t m = std::min(wave, parts - p0);
    parallel_for_flushed(n_threads, m, [&](std::int64_t slot) { part(slot, p0 + slot); });
    for (std::int64_t slot = 0; slot < m; ++slot) merge(slot, p0 + slot);
  }
}

/// out[i] = the sum over p in [0, parts) of partials[p * stride + i], for i < len, added in
/// part order and split over fixed ranges of i: parallel_reduce_ordered's merge for long
/// vectors of float partials (gradients of a kernel), which would be slow on one thread.
inline void sum_partials_ordered(int n_threads, const float* partials, std::int64_t parts, std::int64_t stride,
                                 std::int64_t len, float* out) {
  constexpr std::int64_t kChunk = 16384;
  parallel_for_flushed(n_threads, (len + kChunk - 1) / kChunk, [&](std::int64_t t) {
    const std::int64_t a = t * kChunk, b = std::min(len, a + kChunk);
    std::copy(partials + a, partials + b, out + a);
    for (std::int64_t p = 1; p < parts; ++p) {
      const float* src = partials + p * stride;
      for (std::int64_t i = a; i < b; ++i) out[i] += src[i];
    }
  });
}

}  // namespace scalegen
