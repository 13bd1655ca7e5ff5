#pragma once
// Losses and accuracy counts over the rows of a network's output (internal).

#include <cstdint>

#include "scalegen/nn/network.hpp"

namespace scalegen::nn {

/// The loss of n rows of width outputs y against t (per_sample rows a sample: t's weights are
/// per sample) (sums: the caller divides by count). For
/// a softmax output fused with a cross-entropy, logits are its inputs and the gradient is
/// taken with respect to them. grad (when not null) receives d(mean loss)/d(output), or
/// d(mean loss)/d(logits) when fused, scaled by 1 / n. The rows are taken in fixed blocks
/// added in order: the same sums for any thread count.
BatchStats batch_losses(const float* y, const float* logits, const Targets& t, std::int64_t per_sample, std::int64_t n,
                        std::int64_t width, Loss loss, float* grad, int n_threads);

}  // namespace scalegen::nn
