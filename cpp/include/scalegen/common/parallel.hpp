#pragma once
/// Threading helpers: every parallel region takes its thread count explicitly.

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>

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

}  // namespace scalegen
