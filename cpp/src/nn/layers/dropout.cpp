// Dropout: in training, zeroes each element with probability `rate` and scales the rest by
// 1 / (1 - rate); a passthrough at inference.
#include <cmath>
#include <stdexcept>

#include "../layer.hpp"

namespace scalegen::nn {
namespace {

// A counter-based hash (splitmix64's finaliser): mask bits depend on (seed, layer, element)
// only, so they do not depend on how the work is split.
inline std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Dropout final : public Layer {
 public:
  Dropout(const LayerConfig& c, int index, Shape in) : Layer(index, in), rate_(c.rate) {
    if (!(c.rate >= 0.0f && c.rate < 1.0f))
      throw std::invalid_argument(layer_name("Dropout", index) + ": rate must be in [0, 1)");
  }
  bool passthrough(bool training) const override { return !training || rate_ == 0.0f; }
  void infer(const float*, float*, std::int64_t, const Context&) const override {}
  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override {
    const std::int64_t size = out_.size();
    const float scale = 1.0f / (1.0f - rate_);
    // keep an element when its 24-bit uniform draw is at least rate * 2^24
    const std::uint32_t threshold = std::uint32_t(std::ceil(double(rate_) * 16777216.0));
    const std::uint64_t key = mix(ctx.seed ^ (0x9e3779b97f4a7c15ULL * std::uint64_t(index_ + 1)));
    keep_.resize(std::size_t(n * size));
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      for (std::int64_t i = s * size; i < (s + 1) * size; ++i) {
        const bool keep = std::uint32_t(mix(key + std::uint64_t(i)) >> 40) >= threshold;
        keep_[std::size_t(i)] = keep;
        y[i] = keep ? x[i] * scale : 0.0f;
      }
    });
  }
  void backward(const float*, const float*, float* dy, float* dx, std::int64_t n, bool, const Context& ctx) override {
    if (dx == nullptr) return;
    const std::int64_t size = out_.size();
    const float scale = 1.0f / (1.0f - rate_);
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      for (std::int64_t i = s * size; i < (s + 1) * size; ++i) dx[i] = keep_[std::size_t(i)] ? dy[i] * scale : 0.0f;
    });
  }

 private:
  float rate_;
  std::vector<std::uint8_t> keep_;
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::dropout>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<Dropout>(c, index, in);
}

}  // namespace scalegen::nn
