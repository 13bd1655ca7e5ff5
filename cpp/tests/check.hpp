#pragma once
// A minimal assertion harness for the C++ tests (no external test framework needed).

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace scalegen::test {
inline int& failures() {
  static int n = 0;
  return n;
}
}  // namespace scalegen::test

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++scalegen::test::failures();                                              \
    }                                                                            \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                   \
  do {                                                                                          \
    const double va_ = (a), vb_ = (b);                                                          \
    if (!(std::fabs(va_ - vb_) <= (tol) * (1.0 + std::fabs(vb_)))) {                            \
      std::fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.17g, %s = %.17g\n", __FILE__, __LINE__, \
                   #a, va_, #b, vb_);                                                           \
      ++scalegen::test::failures();                                                             \
    }                                                                                           \
  } while (0)

#define CHECK_THROWS(Exc, ...)                 \
  do {                                         \
    bool thrown_ = false;                      \
    try {                                      \
      __VA_ARGS__;                             \
    } catch (const Exc&) {                     \
      thrown_ = true;                          \
    }                                          \
    CHECK(thrown_ && #__VA_ARGS__ " throws " #Exc); \
  } while (0)

#define TEST_MAIN_END()                                                             \
  do {                                                                              \
    if (scalegen::test::failures()) {                                               \
      std::fprintf(stderr, "%d check(s) failed\n", scalegen::test::failures());     \
      return EXIT_FAILURE;                                                          \
    }                                                                               \
    std::puts("all checks passed");                                                 \
    return EXIT_SUCCESS;                                                            \
  } while (0)
