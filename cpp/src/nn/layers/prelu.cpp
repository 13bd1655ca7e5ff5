// PReLU: max(x, 0) + alpha min(x, 0) with a learned alpha per cell of (height, width,
// channels), shared along the axes given (Keras' shared_axes, e.g. [1, 2]: one per channel).
#include <algorithm>

#include "../layer.hpp"

namespace scalegen::nn {
namespace {

class PReLU final : public Layer {
 public:
  PReLU(const LayerConfig& c, int index, Shape in) : Layer(index, in) {
    // alpha's shape: 1 on the shared axes; its strides over (h, w, c), 0 on the shared ones
    ah_ = c.share_h ? 1 : in.h, aw_ = c.share_w ? 1 : in.w, ac_ = c.share_c ? 1 : in.c;
    stride_c_ = c.share_c ? 0 : 1;
    stride_w_ = c.share_w ? 0 : std::int64_t(ac_);
    stride_h_ = c.share_h ? 0 : std::int64_t(aw_) * ac_;
  }
  std::vector<TensorSpec> tensors() const override {
    if (in_.rank == 1) return {{"alpha", {ac_}, true, 0.0f}};
    return {{"alpha", {ah_, aw_, ac_}, true, 0.0f}};
  }

  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    const float* alpha = ctx.params + param_offset;
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      for_cells([&](std::int64_t i, std::int64_t a) {
        const float v = x[s * in_.size() + i];
        y[s * in_.size() + i] = v > 0.0f ? v : alpha[a] * v;
      });
    });
  }

  void backward(const float* x, const float*, float* dy, float* dx, std::int64_t n, bool,
                const Context& ctx) override {
    const float* alpha = ctx.params + param_offset;
    float* da = ctx.grads + param_offset;
    // alpha's gradient: per sample in parallel would need partials; a sample at a time in
    // order is cheap next to the layers around it and gives the same bits for any thread count
    if (!frozen) std::fill(da, da + std::int64_t(ah_) * aw_ * ac_, 0.0f);
    for (std::int64_t s = 0; s < n && !frozen; ++s)
      for_cells([&](std::int64_t i, std::int64_t a) {
        const float v = x[s * in_.size() + i];
        if (v < 0.0f) da[a] += dy[s * in_.size() + i] * v;
      });
    if (dx == nullptr) return;
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      for_cells([&](std::int64_t i, std::int64_t a) {
        const std::int64_t k = s * in_.size() + i;
        dx[k] = x[k] > 0.0f ? dy[k] : alpha[a] * dy[k];
      });
    });
  }

 private:
  // fn(offset in a sample, offset in alpha) for every cell of one sample.
  template <class Fn>
  void for_cells(Fn&& fn) const {
    std::int64_t i = 0;
    for (int h = 0; h < in_.h; ++h)
      for (int w = 0; w < in_.w; ++w)
        for (int c = 0; c < in_.c; ++c, ++i) fn(i, h * stride_h_ + w * stride_w_ + c * stride_c_);
  }

  int ah_ = 1, aw_ = 1, ac_ = 1;
  std::int64_t stride_h_ = 0, stride_w_ = 0, stride_c_ = 1;
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::prelu>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<PReLU>(c, index, in);
}

}  // namespace scalegen::nn
