#pragma once
// Optimizer updates (internal).

#include <cstdint>
#include <utility>
#include <vector>

#include "scalegen/nn/network.hpp"

namespace scalegen::nn {

/// One optimizer step, Keras' update rules, on the values [begin, end) of each range (the
/// trainable layers' parameters): w from the gradients g and the moments m, v. `step` counts
/// the steps taken, this one included.
void optimizer_step(const OptimizerConfig& opt, std::int64_t step,
                    const std::vector<std::pair<std::int64_t, std::int64_t>>& ranges, float* w, const float* g,
                    float* m, float* v, int n_threads);

}  // namespace scalegen::nn
