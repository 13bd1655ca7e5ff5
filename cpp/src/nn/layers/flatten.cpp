// Flatten: the same floats seen as one axis; no pass is run.
#include "../layer.hpp"

namespace scalegen::nn {
namespace {

class Flatten final : public Layer {
 public:
  Flatten(int index, Shape in) : Layer(index, in) {
    out_ = checked_shape(1, 1, in.size(), 1, layer_name("Flatten", index));
  }
  bool passthrough(bool) const override { return true; }
  void infer(const float*, float*, std::int64_t, const Context&) const override {}
  void backward(const float*, const float*, float*, float*, std::int64_t, bool, const Context&) override {}
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::flatten>(const LayerConfig&, int index, Shape in) {
  return std::make_unique<Flatten>(index, in);
}

}  // namespace scalegen::nn
