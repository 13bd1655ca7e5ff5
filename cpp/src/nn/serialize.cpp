// The native model file: what a C++ program needs to run a network trained in Python.
//   "SGNN" uint32 version | int32 rank, h, w, c | int32 layer count
//   per layer: int32 kind, filters, units, kernel_h, kernel_w, stride_h, stride_w,
//              same_padding, pad_top, pad_bottom, pad_left, pad_right, use_bias,
//              activation, center, scale, [version 2: output_padding_h, output_padding_w,
//              target_h, target_w, target_c, bilinear, share_h, share_w, share_c,
//              version 3: dilation_h, dilation_w, groups]
//              | float32 rate, momentum, epsilon, [version 2: alpha]
//   int64 parameter count, float32 parameters | int64 state count, float32 state
// All little-endian (the byte order of every machine scalegen builds for).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "scalegen/nn/network.hpp"

namespace scalegen::nn {
namespace {

constexpr char kMagic[4] = {'S', 'G', 'N', 'N'};
constexpr std::uint32_t kVersion = 3;  // files of versions 1 and 2 are read too

template <class T>
void put(std::ofstream& out, T value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}

class Reader {
 public:
  explicit Reader(const std::string& path) : in_(path, std::ios::binary), path_(path) {
    if (!in_) throw std::invalid_argument("cannot open the model file '" + path + "'");
  }
  template <class T>
  T get() {
    T value;
    bytes(&value, sizeof(T));
    return value;
  }
  void bytes(void* dst, std::size_t n) {
    in_.read(static_cast<char*>(dst), std::streamsize(n));
    if (std::size_t(in_.gcount()) != n) throw std::invalid_argument("the model file '" + path_ + "' is truncated");
  }
  bool at_end() { return in_.peek() == std::ifstream::traits_type::eof(); }
  /// Bytes between the read position and the end of the file.
  std::int64_t remaining() {
    const auto here = in_.tellg();
    in_.seekg(0, std::ios::end);
    const auto end = in_.tellg();
    in_.seekg(here);
    return std::int64_t(end - here);
  }
  std::invalid_argument error(const std::string& what) const {
    return std::invalid_argument("the model file '" + path_ + "' " + what);
  }

 private:
  std::ifstream in_;
  std::string path_;
};

}  // namespace

void save_network(const Network& net, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::invalid_argument("cannot write the model file '" + path + "'");
  out.write(kMagic, 4);
  put(out, kVersion);
  const Shape s = net.input_shape();
  for (int v : {s.rank, s.h, s.w, s.c}) put<std::int32_t>(out, v);
  put<std::int32_t>(out, std::int32_t(net.configs().size()));
  for (const LayerConfig& c : net.configs()) {
    for (int v : {int(c.kind), c.filters, c.units, c.kernel_h, c.kernel_w, c.stride_h, c.stride_w, int(c.same_padding),
                  c.pad_top, c.pad_bottom, c.pad_left, c.pad_right, int(c.use_bias), int(c.activation), int(c.center),
                  int(c.scale), c.output_padding_h, c.output_padding_w, c.target_h, c.target_w, c.target_c,
                  int(c.bilinear), int(c.share_h), int(c.share_w), int(c.share_c), c.dilation_h, c.dilation_w,
                  c.groups})
      put<std::int32_t>(out, v);
    for (float v : {c.rate, c.momentum, c.epsilon, c.alpha}) put<float>(out, v);
  }
  for (const AlignedVector<float>* v : {&net.params(), &net.state()}) {
    put<std::int64_t>(out, std::int64_t(v->size()));
    out.write(reinterpret_cast<const char*>(v->data()), std::streamsize(v->size() * sizeof(float)));
  }
  if (!out) throw std::runtime_error("writing the model file '" + path + "' failed");
}

std::unique_ptr<Network> load_network(const std::string& path) {
  Reader in(path);
  char magic[4];
  in.bytes(magic, 4);
  if (std::memcmp(magic, kMagic, 4) != 0) throw in.error("is not a scalegen network (no SGNN header)");
  const auto version = in.get<std::uint32_t>();
  if (version < 1 || version > kVersion)
    throw in.error("has format version " + std::to_string(version) + ", expected 1 to " + std::to_string(kVersion));
  Shape shape;
  shape.rank = in.get<std::int32_t>();
  shape.h = in.get<std::int32_t>();
  shape.w = in.get<std::int32_t>();
  shape.c = in.get<std::int32_t>();
  if (shape.rank != 1 && shape.rank != 3) throw in.error("has an input of rank " + std::to_string(shape.rank));
  const auto n_layers = in.get<std::int32_t>();
  if (n_layers <= 0 || n_layers > 100000) throw in.error("has " + std::to_string(n_layers) + " layers");
  std::vector<LayerConfig> configs(static_cast<std::size_t>(n_layers));
  for (LayerConfig& c : configs) {
    std::int32_t v[28];
    const int fields = version == 1 ? 16 : version == 2 ? 25 : 28;
    for (int i = 0; i < fields; ++i) v[i] = in.get<std::int32_t>();
    if (v[0] < 0 || v[0] > int(LayerKind::prelu) || v[13] < 0 || v[13] > int(Activation::log_softmax))
      throw in.error("names an unknown layer kind or activation");
    c.kind = LayerKind(v[0]);
    c.filters = v[1], c.units = v[2], c.kernel_h = v[3], c.kernel_w = v[4], c.stride_h = v[5], c.stride_w = v[6];
    c.same_padding = v[7] != 0;
    c.pad_top = v[8], c.pad_bottom = v[9], c.pad_left = v[10], c.pad_right = v[11];
    c.use_bias = v[12] != 0;
    c.activation = Activation(v[13]);
    c.center = v[14] != 0, c.scale = v[15] != 0;
    c.rate = in.get<float>(), c.momentum = in.get<float>(), c.epsilon = in.get<float>();
    if (version == 1) continue;
    c.output_padding_h = v[16], c.output_padding_w = v[17];
    c.target_h = v[18], c.target_w = v[19], c.target_c = v[20];
    c.bilinear = v[21] != 0, c.share_h = v[22] != 0, c.share_w = v[23] != 0, c.share_c = v[24] != 0;
    if (version >= 3) c.dilation_h = v[25], c.dilation_w = v[26], c.groups = v[27];
    c.alpha = in.get<float>();
  }
  // the layers' sizes are checked against the limits and the file's length before any
  // tensor is allocated: a short file cannot declare a huge network
  const Network::ValueCounts counts = Network::value_counts(configs, shape);
  const std::int64_t needed = 2 * std::int64_t(sizeof(std::int64_t)) + (counts.params + counts.state) * 4;
  if (in.remaining() != needed)
    throw in.error("holds " + std::to_string(in.remaining()) + " bytes after its layers where they need " +
                   std::to_string(needed) + " (truncated or inconsistent)");
  auto net = std::make_unique<Network>(configs, shape);
  for (AlignedVector<float>* v : {&net->params(), &net->state()}) {
    const auto n = in.get<std::int64_t>();
    if (n != std::int64_t(v->size()))
      throw in.error("holds " + std::to_string(n) + " values where the layers need " + std::to_string(v->size()));
    in.bytes(v->data(), v->size() * sizeof(float));
    if (!std::all_of(v->begin(), v->end(), [](float x) { return std::isfinite(x); }))
      throw in.error("holds NaN or infinite parameters");
  }
  return net;
}

}  // namespace scalegen::nn
