// The layer kinds, one line each (the factory is in the kind's file under layers/), and the
// activations by name.
#include <stdexcept>

#include "layer.hpp"

namespace scalegen::nn {

std::unique_ptr<Layer> make_layer(const LayerConfig& config, int index, Shape in) {
  switch (config.kind) {
    case LayerKind::conv2d: return make<LayerKind::conv2d>(config, index, in);
    case LayerKind::max_pool2d: return make<LayerKind::max_pool2d>(config, index, in);
    case LayerKind::avg_pool2d: return make<LayerKind::avg_pool2d>(config, index, in);
    case LayerKind::flatten: return make<LayerKind::flatten>(config, index, in);
    case LayerKind::dense: return make<LayerKind::dense>(config, index, in);
    case LayerKind::dropout: return make<LayerKind::dropout>(config, index, in);
    case LayerKind::batch_norm: return make<LayerKind::batch_norm>(config, index, in);
    case LayerKind::activation: return make<LayerKind::activation>(config, index, in);
    case LayerKind::conv2d_transpose: return make<LayerKind::conv2d_transpose>(config, index, in);
    case LayerKind::up_sampling2d: return make<LayerKind::up_sampling2d>(config, index, in);
    case LayerKind::reshape: return make<LayerKind::reshape>(config, index, in);
    case LayerKind::global_average_pooling2d: return make<LayerKind::global_average_pooling2d>(config, index, in);
    case LayerKind::zero_padding2d: return make<LayerKind::zero_padding2d>(config, index, in);
    case LayerKind::prelu: return make<LayerKind::prelu>(config, index, in);
  }
  throw std::invalid_argument("unknown layer kind " + std::to_string(int(config.kind)));
}

Activation parse_activation(const std::string& name) {
  if (name == "linear" || name.empty()) return Activation::linear;
  if (name == "relu") return Activation::relu;
  if (name == "sigmoid") return Activation::sigmoid;
  if (name == "tanh") return Activation::tanh;
  if (name == "softmax") return Activation::softmax;
  if (name == "leaky_relu") return Activation::leaky_relu;
  if (name == "elu") return Activation::elu;
  if (name == "gelu") return Activation::gelu;
  if (name == "softplus") return Activation::softplus;
  if (name == "swish" || name == "silu") return Activation::swish;
  if (name == "log_softmax") return Activation::log_softmax;
  throw std::invalid_argument("unknown activation '" + name +
                              "': use linear, relu, sigmoid, tanh, softmax, log_softmax, leaky_relu, elu, gelu, softplus or swish");
}

}  // namespace scalegen::nn
