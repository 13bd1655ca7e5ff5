#pragma once
/// Limits on what sizes read from files or configurations may make the core allocate, and
/// checked 64-bit size arithmetic. Python's scalegen.set_limits sets the same values.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace scalegen {

/// Largest allocations made from sizes the core is given (bytes).
struct Limits {
  std::int64_t max_tensor_bytes = std::int64_t(1) << 30;  ///< one tensor or table
  std::int64_t max_total_bytes = std::int64_t(2) << 30;   ///< one model, all tensors together
};

/// The limits in force (process-wide).
Limits get_limits();
/// Replaces the limits; throws std::invalid_argument for a value < 1.
void set_limits(const Limits& limits);

/// A declared size above a limit: a user error (ValueError in Python, scalegen.LimitError).
class LimitError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// a * b for sizes >= 0; throws std::invalid_argument naming `what` when it overflows int64.
std::int64_t checked_mul(std::int64_t a, std::int64_t b, const std::string& what);

/// The byte size of `elements` items of `item_bytes`; throws LimitError naming `what` above
/// max_tensor_bytes (and std::invalid_argument when the product overflows).
std::int64_t check_tensor_bytes(std::int64_t elements, std::int64_t item_bytes, const std::string& what);

/// Throws LimitError naming `what` when `total_bytes` exceeds max_total_bytes.
void check_total_bytes(std::int64_t total_bytes, const std::string& what);

/// A size checked to fit in an int (layer shapes are ints): throws naming `what` otherwise.
int checked_int(std::int64_t value, const std::string& what);

}  // namespace scalegen
