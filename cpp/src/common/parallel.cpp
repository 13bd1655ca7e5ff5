#include "scalegen/common/parallel.hpp"

#include <omp.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace scalegen {
namespace {

std::atomic<bool> g_forked_child{false};
std::atomic<int> g_last_parallel_threads{0};

void mark_forked_child() { g_forked_child.store(true); }

// Registered once when the library is loaded.
const bool g_atfork_registered = [] {
  return pthread_atfork(nullptr, nullptr, &mark_forked_child) == 0;
}();

}  // namespace

bool in_forked_child() { return g_atfork_registered && g_forked_child.load(); }

int resolve_threads(int n_threads) {
  if (n_threads < 1) throw std::invalid_argument("the number of threads must be at least 1");
  // never more than the processors this process may run on (Python warns before that):
  // libgomp exits the process when it cannot create a thread
  return in_forked_child() ? 1 : std::min(n_threads, std::max(1, omp_get_num_procs()));
}

int last_parallel_threads() { return g_last_parallel_threads.load(); }

namespace detail {
void record_parallel_threads(std::uint64_t mask) {
  g_last_parallel_threads.store(__builtin_popcountll(mask));
}
int current_thread_num() { return omp_get_thread_num(); }
}  // namespace detail

int probe_parallel_threads(int n_threads, int n_iter) {
  if (n_iter < 1) throw std::invalid_argument("n_iter must be at least 1");
  const int threads = resolve_threads(n_threads);
  std::vector<int> ran(static_cast<std::size_t>(threads), 0);
#pragma omp parallel for schedule(static, 1) num_threads(threads)
  for (int i = 0; i < n_iter; ++i) {
    ran[static_cast<std::size_t>(omp_get_thread_num())] = 1;
  }
  int count = 0;
  for (int r : ran) count += r;
  return count;
}

}  // namespace scalegen
