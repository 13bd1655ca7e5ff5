// Reshape: the same floats seen with another shape (the target is checked in Python and
// here); no pass is run.
#include <stdexcept>

#include "../layer.hpp"
#include "scalegen/common/limits.hpp"

namespace scalegen::nn {
namespace {

class Reshape final : public Layer {
 public:
  Reshape(const LayerConfig& c, int index, Shape in) : Layer(index, in) {
    const std::string who = layer_name("Reshape", index);
    const bool flat = c.target_h == 0 && c.target_w == 0;
    std::int64_t dims[3] = {flat ? 1 : c.target_h, flat ? 1 : c.target_w, c.target_c};
    // one -1 is what the input's size leaves
    std::int64_t known = 1;
    int unknown = 0;
    for (auto d : dims) {
      if (d == -1) ++unknown;
      else if (d < 1) throw std::invalid_argument(who + ": the target sizes must be positive (one may be -1)");
      else known = checked_mul(known, d, who);
    }
    if (unknown > 1) throw std::invalid_argument(who + ": at most one target size may be -1");
    for (auto& d : dims)
      if (d == -1) {
        if (in.size() % known != 0)
          throw std::invalid_argument(who + ": " + std::to_string(in.size()) + " values cannot take the target shape");
        d = in.size() / known;
      }
    out_ = checked_shape(dims[0], dims[1], dims[2], flat ? 1 : 3, who);
    if (out_.size() != in.size())
      throw std::invalid_argument(who + ": the target shape holds " + std::to_string(out_.size()) +
                                  " values per sample, the input " + std::to_string(in.size()));
  }
  bool passthrough(bool) const override { return true; }
  void infer(const float*, float*, std::int64_t, const Context&) const override {}
  void backward(const float*, const float*, float*, float*, std::int64_t, bool, const Context&) override {}
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::reshape>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<Reshape>(c, index, in);
}

}  // namespace scalegen::nn
