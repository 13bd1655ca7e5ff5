// GlobalAveragePooling2D: the mean of each channel over height and width (output: channels).
#include <algorithm>
#include <stdexcept>

#include "../layer.hpp"

namespace scalegen::nn {
namespace {

class GlobalAveragePooling2D final : public Layer {
 public:
  GlobalAveragePooling2D(int index, Shape in) : Layer(index, in) {
    const std::string who = layer_name("GlobalAveragePooling2D", index);
    if (in.rank != 3) throw std::invalid_argument(who + " needs inputs of shape (height, width, channels)");
    out_ = checked_shape(1, 1, in.c, 1, who);
  }
  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    const std::int64_t cells = std::int64_t(in_.h) * in_.w, C = in_.c;
    const float scale = 1.0f / float(cells);
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      float* out = y + s * C;
      std::fill(out, out + C, 0.0f);
      for (std::int64_t p = 0; p < cells; ++p)
        for (std::int64_t c = 0; c < C; ++c) out[c] += x[(s * cells + p) * C + c];
      for (std::int64_t c = 0; c < C; ++c) out[c] *= scale;
    });
  }
  void backward(const float*, const float*, float* dy, float* dx, std::int64_t n, bool,
                const Context& ctx) override {
    if (dx == nullptr) return;
    const std::int64_t cells = std::int64_t(in_.h) * in_.w, C = in_.c;
    const float scale = 1.0f / float(cells);
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      for (std::int64_t p = 0; p < cells; ++p)
        for (std::int64_t c = 0; c < C; ++c) dx[(s * cells + p) * C + c] = dy[s * C + c] * scale;
    });
  }
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::global_average_pooling2d>(const LayerConfig&, int index, Shape in) {
  return std::make_unique<GlobalAveragePooling2D>(index, in);
}

}  // namespace scalegen::nn
