#pragma once
// A vector of floats as wide as the level's registers (16 lanes on AVX-512, 8 on AVX2, 4 on
// the baseline), loaded and stored without alignment.

#include <cstdint>

#include "scalegen/common/simd.hpp"

namespace scalegen::nn {

typedef float VecF __attribute__((vector_size(kSimdBytes), aligned(4)));
constexpr std::int64_t kVec = kSimdBytes / sizeof(float);

}  // namespace scalegen::nn
