#include "scalegen/common/limits.hpp"

#include <atomic>
#include <climits>
#include <cstdio>

namespace scalegen {
namespace {

std::atomic<std::int64_t> g_max_tensor_bytes{Limits{}.max_tensor_bytes};
std::atomic<std::int64_t> g_max_total_bytes{Limits{}.max_total_bytes};

std::string describe(std::int64_t bytes) {
  char gib[32];
  std::snprintf(gib, sizeof gib, "%.3g GiB", double(bytes) / double(std::int64_t(1) << 30));
  return std::to_string(bytes) + " bytes (" + gib + ")";
}

LimitError refuse(const std::string& what, std::int64_t bytes, const char* limit, std::int64_t allowed) {
  return LimitError(what + " needs " + describe(bytes) + ", above the limit " + limit + "=" + describe(allowed) +
                    "; if the input is trusted, raise it with scalegen.set_limits(" + limit + "=...)");
}

}  // namespace

Limits get_limits() { return {g_max_tensor_bytes.load(), g_max_total_bytes.load()}; }

void set_limits(const Limits& limits) {
  if (limits.max_tensor_bytes < 1 || limits.max_total_bytes < 1)
    throw std::invalid_argument("limits must be positive byte counts");
  g_max_tensor_bytes.store(limits.max_tensor_bytes);
  g_max_total_bytes.store(limits.max_total_bytes);
}

std::int64_t checked_mul(std::int64_t a, std::int64_t b, const std::string& what) {
  std::int64_t out = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &out))
    throw LimitError(what + ": the size " + std::to_string(a) + " x " + std::to_string(b) +
                     " is negative or does not fit in 64 bits");
  return out;
}

std::int64_t check_tensor_bytes(std::int64_t elements, std::int64_t item_bytes, const std::string& what) {
  const std::int64_t bytes = checked_mul(elements, item_bytes, what);
  const std::int64_t allowed = g_max_tensor_bytes.load();
  if (bytes > allowed) throw refuse(what, bytes, "max_tensor_bytes", allowed);
  return bytes;
}

void check_total_bytes(std::int64_t total_bytes, const std::string& what) {
  const std::int64_t allowed = g_max_total_bytes.load();
  if (total_bytes > allowed) throw refuse(what, total_bytes, "max_total_bytes", allowed);
}

int checked_int(std::int64_t value, const std::string& what) {
  if (value < INT_MIN || value > INT_MAX)
    throw std::invalid_argument(what + " (" + std::to_string(value) + ") does not fit in a 32-bit int");
  return int(value);
}

}  // namespace scalegen
