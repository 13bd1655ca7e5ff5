// Threads: explicit counts are honoured, exceptions cross parallel regions safely.
#include <atomic>
#include <cfloat>
#include <chrono>
#include <thread>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "scalegen/common/parallel.hpp"

int main() {
  using namespace scalegen;

  CHECK(probe_parallel_threads(1, 64) == 1);
  CHECK(probe_parallel_threads(2, 64) == 2);
  CHECK_THROWS(std::invalid_argument, resolve_threads(0));

  // Subnormals become zero inside a FlushSubnormals scope only (x86 MXCSR, AArch64 FPCR).
  volatile float tiny = FLT_MIN;
  CHECK(tiny * 0.5f > 0.0f);
  {
    const FlushSubnormals flush;
    CHECK(tiny * 0.5f == 0.0f);
  }
  CHECK(tiny * 0.5f > 0.0f);

  // Every iteration runs exactly once.
  std::vector<int> hits(1000, 0);
  parallel_for(2, 1000, [&](std::int64_t i) {
    hits[i] += 1;
    std::this_thread::sleep_for(std::chrono::microseconds(20));  // give both threads work
  });
  bool all_once = true;
  for (int h : hits) all_once = all_once && h == 1;
  CHECK(all_once);
  CHECK(last_parallel_threads() == 2);
  parallel_for(1, 1000, [&](std::int64_t i) { hits[i] += 1; });
  CHECK(last_parallel_threads() == 1);

  // An exception inside the region is captured and rethrown on the caller, with its message.
  for (int threads : {1, 2}) {
    bool caught = false;
    try {
      parallel_for(threads, 100, [&](std::int64_t i) {
        if (i == 37) throw std::invalid_argument("bad row 37");
      });
    } catch (const std::invalid_argument& e) {
      caught = std::string(e.what()) == "bad row 37";
    }
    CHECK(caught);
  }
  // Several throwing iterations: still exactly one exception, and the loop stays usable.
  bool caught_one = false;
  try {
    parallel_for(2, 1000, [&](std::int64_t i) {
      if (i % 7 == 0) throw std::runtime_error("many");
    });
  } catch (const std::runtime_error&) {
    caught_one = true;
  }
  CHECK(caught_one);
  std::atomic<int> after{0};
  parallel_for(2, 10, [&](std::int64_t) { ++after; });
  CHECK(after == 10);

  TEST_MAIN_END();
}
