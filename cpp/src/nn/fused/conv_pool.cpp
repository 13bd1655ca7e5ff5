// A convolution and the pooling after it in one pass (see conv2d.hpp): each block of the
// convolution's output is pooled while it is in cache, only the rows and columns the pool
// reads are computed, and a tiny first layer pools 2 x 2 in registers at inference. In
// training (a relu convolution and a max pool that absorbs the relu) the convolution's output
// is never stored: its gradient is routed back from the pool's through the pool's argmax.
#include <algorithm>
#include <array>

#include "../kernels/scratch.hpp"
#include "../kernels/small_k.hpp"
#include "../layers/conv2d.hpp"
#include "../layers/pool2d.hpp"

namespace scalegen::nn {

bool Conv2D::absorbs_next(const Layer& next, bool training) const {
  const Pool2D* pool = next.as_pooling();
  if (pool == nullptr || general_) return false;
  return !training || (act_.kind == Activation::relu && pool->absorbs_relu());
}

void Conv2D::infer_with_next(const Layer& next, const float* x, float* y, std::int64_t n, const Context& ctx) const {
  run_forward(x, y, n, ctx, nullptr, next.as_pooling());
}

void Conv2D::train_forward_with_next(const Layer& next, const float* x, float* y, std::int64_t n, const Context& ctx) {
  const SampleBlocks sb = blocks_of(n);
  const Pool2D& pool = *next.as_pooling();
  pool_argmax_.resize(std::size_t(n * pool.out().size()));
  parallel_for_flushed(ctx.n_threads, sb.count, [&](std::int64_t blk) {
    const std::int64_t s0 = blk * sb.per, s1 = std::min(n, s0 + sb.per);
    conv_pool_block(x, s0, s1, pool, y, pool_argmax_.data(), ctx);
  });
}

void Conv2D::backward_with_next(const Layer& next, const float* x, const float* y, float* dy, float* dx, std::int64_t n,
                                const Context& ctx) {
  run_backward(x, nullptr, dy, dx, n, true, ctx, next.as_pooling(), y);
}

void Conv2D::route_from_pool(const Pool2D& pool, const float* pool_y, const float* pool_dy, std::int64_t s0,
                             std::int64_t s1, float* dz) const {
  const std::int64_t pooled = pool.out().size();
  std::fill(dz, dz + (s1 - s0) * out_.size(), 0.0f);
  for (std::int64_t s = s0; s < s1; ++s)
    pool.route_sample(pool_y + s * pooled, pool_dy + s * pooled, pool_argmax_.data() + s * pooled,
                      dz + (s - s0) * out_.size());
}

std::pair<int, int> Conv2D::rows_cols_read_by(const Pool2D* pool) const {
  if (pool == nullptr || !in_place_) return {out_.h, out_.w};
  return {pool->input_rows(0, pool->out().h).second, pool->input_cols_end()};
}

bool Conv2D::pooled_rows_in_registers(const float* x, std::int64_t s, int u0, int u1, const Pool2D& pool, float* y,
                                      const Context& ctx) const {
  if (!small_reduction() || !in_place_ || !pool.max_2x2_tiles() ||
      (act_.kind != Activation::relu && act_.kind != Activation::linear))
    return false;
  const float* w = ctx.params + param_offset;
  const std::int64_t C = in_.c, row_floats = std::int64_t(in_.w) * C;
  const std::array<std::int32_t, 4> cells{0, std::int32_t(sw_ * C), std::int32_t(sh_ * row_floats),
                                          std::int32_t(sh_ * row_floats + sw_ * C)};
  const std::int64_t pooled_w = pool.out().w;
  for (int u = u0; u < u1; ++u)
    with_small_k(K_, [&](auto k) {
      small_k_max_pool_2x2<decltype(k)::value>(x + s * in_.size() + 2 * u * sh_ * row_floats, pooled_w, 2 * sw_ * C,
                                               cells, window_offsets_.data(), w, F_, y + u * pooled_w * F_,
                                               bias_ ? w + K_ * F_ : nullptr, act_.kind == Activation::relu);
    });
  return true;
}

void Conv2D::conv_pool_block(const float* x, std::int64_t s0, std::int64_t s1, const Pool2D& pool, float* y,
                             std::int32_t* argmax, const Context& ctx) const {
  const auto [rows_read, cols_read] = rows_cols_read_by(&pool);
  const std::int64_t pooled = pool.out().size();
  if (!small_reduction()) {
    const ScratchLease lease(std::size_t((s1 - s0) * out_.size()));
    float* out = lease.data();
    forward_rows(x, {s0, s1, 0, rows_read, cols_read, 0, F_}, out, nullptr, ctx);
    for (std::int64_t s = s0; s < s1; ++s)
      pool.pool_sample(out + (s - s0) * out_.size(), y + s * pooled, argmax ? argmax + s * pooled : nullptr);
    return;
  }
  // weights in registers: pooled row by pooled row, each piece of output pooled from L1
  const ScratchLease lease(std::size_t(out_.size()));  // laid out as a whole image's output
  float* out = lease.data();
  for (std::int64_t s = s0; s < s1; ++s) {
    if (argmax == nullptr && pooled_rows_in_registers(x, s, 0, pool.out().h, pool, y + s * pooled, ctx)) continue;
    int done = 0;  // rows [0, done) computed (overlapping windows share rows)
    for (int u = 0; u < pool.out().h; ++u) {
      const auto [c0, c1] = pool.input_rows(u, u + 1);
      if (c1 > std::max(c0, done)) {
        const int from = std::max(c0, done);
        forward_rows(x, {s, s + 1, from, c1, cols_read, 0, F_}, out + std::int64_t(from) * out_.w * F_, nullptr, ctx);
        done = c1;
      }
      pool.pool_rows(out, y + s * pooled, u, u + 1, argmax ? argmax + s * pooled : nullptr);
    }
  }
}

}  // namespace scalegen::nn
