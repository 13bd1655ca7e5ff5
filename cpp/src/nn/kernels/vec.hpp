#pragma once
// 16 floats, loaded and stored without alignment; GCC lowers it to what the ISA level has.

#include <cstdint>

namespace scalegen::nn {

typedef float Vec16 __attribute__((vector_size(64), aligned(4)));
constexpr std::int64_t kVec = 16;

}  // namespace scalegen::nn
