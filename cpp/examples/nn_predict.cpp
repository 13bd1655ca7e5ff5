// Runs a network trained in Python, without Python:
//   model.save_native("model.sgnn")                  # in Python
//   nn_predict model.sgnn inputs.f32 outputs.f32      # here
// inputs.f32 holds rows of float32 values in the model's (channels-last) input layout;
// outputs.f32 receives one row of outputs per input row. Prints the rows' argmax.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "scalegen/nn/network.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s MODEL.sgnn INPUTS.f32 OUTPUTS.f32\n", argv[0]);
    return 2;
  }
  try {
    const auto net = scalegen::nn::load_network(argv[1]);
    std::ifstream in(argv[2], std::ios::binary);
    if (!in) throw std::invalid_argument(std::string("cannot open ") + argv[2]);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::int64_t row = net->input_shape().size();
    if (bytes.size() % (sizeof(float) * std::size_t(row)) != 0)
      throw std::invalid_argument("the inputs are not whole rows of the model's input size");
    const std::int64_t n = std::int64_t(bytes.size() / sizeof(float)) / row;
    std::vector<float> x(std::size_t(n * row));
    std::memcpy(x.data(), bytes.data(), bytes.size());
    const std::int64_t width = net->output_shape().size();
    std::vector<float> y(std::size_t(n * width));
    net->predict(x.data(), n, y.data(), 256, 2);
    std::ofstream out(argv[3], std::ios::binary);
    out.write(reinterpret_cast<const char*>(y.data()), std::streamsize(y.size() * sizeof(float)));
    for (std::int64_t i = 0; i < n; ++i) {
      const float* r = y.data() + i * width;
      std::int64_t best = 0;
      for (std::int64_t j = 1; j < width; ++j) best = r[j] > r[best] ? j : best;
      std::printf("%lld%c", static_cast<long long>(best), i + 1 == n ? '\n' : ' ');
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nn_predict: %s\n", e.what());
    return 1;
  }
  return 0;
}
