// Batch normalization over the last axis (channels), Keras' semantics and defaults.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "../layer.hpp"

namespace scalegen::nn {
namespace {

// One row of C channels: free functions with restrict pointers, so that the loops vectorize.
void normalize_row(const float* __restrict x, const float* __restrict mean, const float* __restrict scale,
                   const float* __restrict shift, std::int64_t C, float* __restrict y) {
  for (std::int64_t c = 0; c < C; ++c) y[c] = (x[c] - mean[c]) * scale[c] + shift[c];
}
// p += x (center null) or (x - center)^2, in double.
void add_moment_row(const float* __restrict x, const double* __restrict center, std::int64_t C, double* __restrict p) {
  if (center == nullptr) {
    for (std::int64_t c = 0; c < C; ++c) p[c] += double(x[c]);
    return;
  }
  for (std::int64_t c = 0; c < C; ++c) {
    const double v = double(x[c]) - center[c];
    p[c] += v * v;
  }
}
// sdy += dy, sdx += dy xhat (in double).
void add_gradient_sums(const float* __restrict x, const float* __restrict dy, const float* __restrict mean,
                       const float* __restrict inv_std, std::int64_t C, double* __restrict sdy,
                       double* __restrict sdx) {
  for (std::int64_t c = 0; c < C; ++c) {
    sdy[c] += double(dy[c]);
    sdx[c] += double(dy[c] * ((x[c] - mean[c]) * inv_std[c]));
  }
}
void input_gradient_row(const float* __restrict x, const float* __restrict dy, const float* __restrict mean,
                        const float* __restrict a, const float* __restrict d, const float* __restrict e, std::int64_t C,
                        float* __restrict dx) {
  for (std::int64_t c = 0; c < C; ++c) dx[c] = a[c] * dy[c] - d[c] * (x[c] - mean[c]) - e[c];
}

// Normalises the last axis (channels) over all other axes of the batch, as Keras' default.
class BatchNorm final : public Layer {
 public:
  BatchNorm(const LayerConfig& c, int index, Shape in)
      : Layer(index, in), momentum_(c.momentum), epsilon_(c.epsilon), center_(c.center), scale_(c.scale) {
    if (!(c.epsilon > 0.0f) || !std::isfinite(c.epsilon))
      throw std::invalid_argument(layer_name("BatchNormalization", index) + ": epsilon must be positive and finite");
    if (!(c.momentum >= 0.0f && c.momentum <= 1.0f))
      throw std::invalid_argument(layer_name("BatchNormalization", index) + ": momentum must be in [0, 1]");
    C_ = in.c;
  }
  std::vector<TensorSpec> tensors() const override {
    std::vector<TensorSpec> t;
    if (scale_) t.push_back({"gamma", {C_}, true, 1.0f});
    if (center_) t.push_back({"beta", {C_}, true, 0.0f});
    t.push_back({"moving_mean", {C_}, false, 0.0f});
    t.push_back({"moving_variance", {C_}, false, 1.0f});
    return t;
  }

  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    const float* mean = ctx.state + state_offset;
    const float* var = mean + C_;
    std::vector<float> a(static_cast<std::size_t>(C_)), b(static_cast<std::size_t>(C_));
    for (std::int64_t c = 0; c < C_; ++c) {
      const float inv = 1.0f / std::sqrt(var[c] + epsilon_);
      a[std::size_t(c)] = gamma(ctx, c) * inv;
      b[std::size_t(c)] = beta(ctx, c) - mean[c] * a[std::size_t(c)];
    }
    const std::int64_t rows = n * in_.h * in_.w;
    parallel_for_flushed(ctx.n_threads, blocks(rows), [&](std::int64_t t) {
      for (std::int64_t r = t * kRows; r < std::min(rows, (t + 1) * kRows); ++r)
        for (std::int64_t c = 0; c < C_; ++c) y[r * C_ + c] = x[r * C_ + c] * a[std::size_t(c)] + b[std::size_t(c)];
    });
  }

  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override {
    if (frozen) return infer(x, y, n, ctx);  // Keras: a frozen layer normalises by its moving statistics
    const std::int64_t rows = n * in_.h * in_.w;
    // mean, then the (biased) variance around it, from per-block double partial sums
    mean_.assign(std::size_t(C_), 0.0);
    column_moments(x, rows, nullptr, ctx.n_threads, mean_);
    for (auto& m : mean_) m /= double(rows);
    std::vector<double> var(static_cast<std::size_t>(C_), 0.0);
    column_moments(x, rows, mean_.data(), ctx.n_threads, var);
    inv_std_.resize(std::size_t(C_));
    float* moving_mean = ctx.state + state_offset;
    float* moving_var = moving_mean + C_;
    for (std::int64_t c = 0; c < C_; ++c) {
      const double v = var[std::size_t(c)] / double(rows);
      inv_std_[std::size_t(c)] = float(1.0 / std::sqrt(v + double(epsilon_)));
      moving_mean[c] = moving_mean[c] * momentum_ + float(mean_[std::size_t(c)]) * (1.0f - momentum_);
      moving_var[c] = moving_var[c] * momentum_ + float(v) * (1.0f - momentum_);
    }
    // y = (x - mean) gamma / std + beta, per channel coefficients in float
    std::vector<float> scale(static_cast<std::size_t>(C_)), shift(static_cast<std::size_t>(C_));
    mean_f_.resize(std::size_t(C_));
    for (std::int64_t c = 0; c < C_; ++c) {
      mean_f_[std::size_t(c)] = float(mean_[std::size_t(c)]);
      scale[std::size_t(c)] = gamma(ctx, c) * inv_std_[std::size_t(c)];
      shift[std::size_t(c)] = beta(ctx, c);
    }
    parallel_for_flushed(ctx.n_threads, blocks(rows), [&](std::int64_t t) {
      for (std::int64_t r = t * kRows; r < std::min(rows, (t + 1) * kRows); ++r)
        normalize_row(x + r * C_, mean_f_.data(), scale.data(), shift.data(), C_, y + r * C_);
    });
  }

  void backward(const float* x, const float*, float* dy, float* dx, std::int64_t n, bool, const Context& ctx) override {
    if (frozen) return frozen_backward(dy, dx, n, ctx);
    const std::int64_t rows = n * in_.h * in_.w, nb = blocks(rows);
    // per block: sum dy and sum dy * xhat, in double, added in block order
    std::vector<double> part(static_cast<std::size_t>(nb * 2 * C_), 0.0);
    parallel_for_flushed(ctx.n_threads, nb, [&](std::int64_t t) {
      double* sdy = part.data() + t * 2 * C_;
      for (std::int64_t r = t * kRows; r < std::min(rows, (t + 1) * kRows); ++r)
        add_gradient_sums(x + r * C_, dy + r * C_, mean_f_.data(), inv_std_.data(), C_, sdy, sdy + C_);
    });
    std::vector<double> dbeta(static_cast<std::size_t>(C_), 0.0), dgamma(static_cast<std::size_t>(C_), 0.0);
    for (std::int64_t t = 0; t < nb; ++t)
      for (std::int64_t c = 0; c < C_; ++c) {
        dbeta[std::size_t(c)] += part[std::size_t(t * 2 * C_ + c)];
        dgamma[std::size_t(c)] += part[std::size_t(t * 2 * C_ + C_ + c)];
      }
    float* g = ctx.grads + param_offset;
    if (scale_)
      for (std::int64_t c = 0; c < C_; ++c) g[c] = float(dgamma[std::size_t(c)]);
    if (center_)
      for (std::int64_t c = 0; c < C_; ++c) g[(scale_ ? C_ : 0) + c] = float(dbeta[std::size_t(c)]);
    if (dx == nullptr) return;
    // dx = gamma / std (dy - (dbeta + xhat dgamma) / rows), per channel coefficients in float
    std::vector<float> a(static_cast<std::size_t>(C_)), d(static_cast<std::size_t>(C_)),
        e(static_cast<std::size_t>(C_));
    for (std::int64_t c = 0; c < C_; ++c) {
      const auto cc = std::size_t(c);
      const double k = double(gamma(ctx, c)) * inv_std_[cc] / double(rows);
      a[cc] = gamma(ctx, c) * inv_std_[cc];
      d[cc] = float(k * dgamma[cc] * inv_std_[cc]);
      e[cc] = float(k * dbeta[cc]);
    }
    parallel_for_flushed(ctx.n_threads, nb, [&](std::int64_t t) {
      for (std::int64_t r = t * kRows; r < std::min(rows, (t + 1) * kRows); ++r)
        input_gradient_row(x + r * C_, dy + r * C_, mean_f_.data(), a.data(), d.data(), e.data(), C_, dx + r * C_);
    });
  }

 private:
  static constexpr std::int64_t kRows = 256;
  // The input gradient of the inference-mode normalization y = x a + b: dy a.
  void frozen_backward(const float* dy, float* dx, std::int64_t n, const Context& ctx) const {
    if (dx == nullptr) return;
    const float* var = ctx.state + state_offset + C_;
    const std::int64_t rows = n * in_.h * in_.w;
    parallel_for_flushed(ctx.n_threads, blocks(rows), [&](std::int64_t t) {
      for (std::int64_t r = t * kRows; r < std::min(rows, (t + 1) * kRows); ++r)
        for (std::int64_t c = 0; c < C_; ++c)
          dx[r * C_ + c] = dy[r * C_ + c] * (gamma(ctx, c) * (1.0f / std::sqrt(var[c] + epsilon_)));
    });
  }
  std::int64_t blocks(std::int64_t rows) const { return (rows + kRows - 1) / kRows; }
  float gamma(const Context& ctx, std::int64_t c) const { return scale_ ? ctx.params[param_offset + c] : 1.0f; }
  float beta(const Context& ctx, std::int64_t c) const {
    return center_ ? ctx.params[param_offset + (scale_ ? C_ : 0) + c] : 0.0f;
  }
  // Adds, per channel, the sum of x (center null) or of (x - center)^2 into out.
  void column_moments(const float* x, std::int64_t rows, const double* center, int n_threads,
                      std::vector<double>& out) const {
    const std::int64_t nb = blocks(rows);
    std::vector<double> part(static_cast<std::size_t>(nb * C_), 0.0);
    parallel_for_flushed(n_threads, nb, [&](std::int64_t t) {
      double* p = part.data() + t * C_;
      for (std::int64_t r = t * kRows; r < std::min(rows, (t + 1) * kRows); ++r)
        add_moment_row(x + r * C_, center, C_, p);
    });
    for (std::int64_t t = 0; t < nb; ++t)
      for (std::int64_t c = 0; c < C_; ++c) out[std::size_t(c)] += part[std::size_t(t * C_ + c)];
  }

  float momentum_, epsilon_;
  bool center_, scale_;
  std::int64_t C_ = 0;
  std::vector<double> mean_;
  std::vector<float> mean_f_, inv_std_;
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::batch_norm>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<BatchNorm>(c, index, in);
}

}  // namespace scalegen::nn
