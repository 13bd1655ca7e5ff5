#pragma once
// Element-wise kernels shared by the layers: activations, bias epilogues, copies, sums and
// the per-channel steps of max pooling.

#include <cstdint>
#include <cstring>

#include "scalegen/nn/network.hpp"

namespace scalegen::nn {

/// An activation and its parameter (leaky_relu's negative slope, elu's alpha).
struct Act {
  Activation kind = Activation::linear;
  float alpha = 0.0f;
};

/// A layer's absorb_activation: its activation `mine` becomes `act` when mine is linear and act is
/// element-wise (not a softmax).
inline bool absorb_activation_into(Act& mine, Act act) {
  if (mine.kind != Activation::linear || act.kind == Activation::softmax || act.kind == Activation::log_softmax)
    return false;
  mine = act;
  return true;
}

/// Whether an activation's derivative needs its input, not only its output (softmax's
/// inputs are the logits a cross-entropy is taken from).
bool needs_pre_activation(Activation kind);

/// Applies `act` to rows x width values in place (softmax per row); when `keep` is not null
/// and the activation needs its input for the backward pass, the values are copied there first.
void activate(float* z, std::int64_t rows, std::int64_t width, Act act, float* keep);
/// Turns dy (gradient at the activation's output y) into the gradient at its input x, in
/// place; pre holds x where needs_pre_activation says so.
void activation_backward(float* dy, const float* y, const float* pre, std::int64_t rows, std::int64_t width, Act act);
/// activation_backward over n samples of `sample` floats (rows of `width`), unless
/// pre_activation (dy is that gradient already), in fixed groups of samples on n_threads;
/// with bias_grad not null, the column sums of the result there (a bias's gradient), the
/// groups' partial sums added in group order: the same bits for any thread count.
void output_gradient(float* dy, const float* y, const float* pre, std::int64_t n, std::int64_t sample,
                     std::int64_t width, bool pre_activation, Act act, float* bias_grad, int n_threads);
/// bias_activate over n samples of `sample` floats (rows of `width`), in groups of samples
/// on n_threads (keep, when not null, laid out as y).
void bias_activate_samples(float* y, std::int64_t n, std::int64_t sample, std::int64_t width, const float* bias,
                           Act act, float* keep, int n_threads);
// The epilogue of a layer's GEMM: z += bias per column, then the activation (one pass for relu).
inline void bias_activate(float* __restrict z, std::int64_t rows, std::int64_t width, const float* __restrict bias,
                          Act act, float* keep) {
  if (bias && act.kind == Activation::relu) {
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < width; ++j) {
        const float v = z[r * width + j] + bias[j];
        z[r * width + j] = v > 0.0f ? v : 0.0f;
      }
    return;
  }
  if (bias && width == 1) {  // one channel: a flat pass (the loop over one column did not vectorize)
    const float b = bias[0];
    for (std::int64_t r = 0; r < rows; ++r) z[r] += b;
  } else if (bias) {
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < width; ++j) z[r * width + j] += bias[j];
  }
  activate(z, rows, width, act, keep);
}

// A short copy inline (a call to memcpy costs more than copying a few floats).
inline void copy_floats(const float* src, std::int64_t n, float* dst) {
  if (n >= 32) {
    std::memcpy(dst, src, sizeof(float) * std::size_t(n));
  } else {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

// dst = max(dst, src) per channel; arg follows where src is strictly greater. Free
// functions with restrict pointers: in a lambda the stores through arg could alias C.
inline void max_with_argmax(const float* __restrict src, std::int32_t at, int C, float* __restrict dst,
                            std::int32_t* __restrict arg) {
  for (int c = 0; c < C; ++c) {
    const bool gt = src[c] > dst[c];
    dst[c] = gt ? src[c] : dst[c];
    arg[c] = gt ? at + c : arg[c];
  }
}
// One cell of a window in a max pool's backward pass: the window's gradient where the
// cell is the argmax (and, absorbing a relu, its input is positive), else 0.
inline void route_window_cell(const float* __restrict d, const std::int32_t* __restrict arg, const float* __restrict x,
                              std::int32_t at, int C, bool relu, float* __restrict g) {
  for (int c = 0; c < C; ++c) {
    const bool hit = arg[c] == at + c && (!relu || x[c] > 0.0f);
    g[c] = hit ? d[c] : 0.0f;
  }
}
inline void max_into(const float* __restrict src, int C, float* __restrict dst) {
  for (int c = 0; c < C; ++c) dst[c] = src[c] > dst[c] ? src[c] : dst[c];
}

// dst += src over n floats.
inline void add_floats(const float* __restrict src, std::int64_t n, float* __restrict dst) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// Sum over rows of a rows x width block, added to acc (in row order; one column in 16
// interleaved sums).
inline void add_column_sums(const float* __restrict z, std::int64_t rows, std::int64_t width, float* __restrict acc) {
  if (width == 1) {  // one column: 16 running sums (a single one ran a value at a time)
    float lanes[16] = {};
    std::int64_t r = 0;
    for (; r + 16 <= rows; r += 16)
      for (int v = 0; v < 16; ++v) lanes[v] += z[r + v];
    float total = 0.0f;
    for (int v = 0; v < 16; ++v) total += lanes[v];
    for (; r < rows; ++r) total += z[r];
    acc[0] += total;
    return;
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = z + r * width;
    for (std::int64_t j = 0; j < width; ++j) acc[j] += row[j];
  }
}

}  // namespace scalegen::nn
