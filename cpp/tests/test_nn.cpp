// Network kernels under the sanitizers: odd shapes for every layer (im2col/col2im edges,
// 'same' padding, overlapping pools), gradients against central differences, thread-count
// determinism, optimizer steps, and input errors.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"
#include "scalegen/nn/network.hpp"

using namespace scalegen::nn;

namespace {

LayerConfig conv(int filters, int kh, int kw, int sh, int sw, bool same, Activation act) {
  LayerConfig c;
  c.kind = LayerKind::conv2d;
  c.filters = filters, c.kernel_h = kh, c.kernel_w = kw, c.stride_h = sh, c.stride_w = sw;
  c.same_padding = same, c.activation = act;
  return c;
}
LayerConfig pool(LayerKind kind, int ph, int pw, int sh, int sw, bool same) {
  LayerConfig c;
  c.kind = kind;
  c.kernel_h = ph, c.kernel_w = pw, c.stride_h = sh, c.stride_w = sw, c.same_padding = same;
  return c;
}
LayerConfig simple(LayerKind kind) {
  LayerConfig c;
  c.kind = kind;
  return c;
}
LayerConfig dense(int units, Activation act) {
  LayerConfig c;
  c.kind = LayerKind::dense;
  c.units = units, c.activation = act;
  return c;
}

std::vector<LayerConfig> odd_network() {
  return {conv(5, 3, 2, 2, 1, true, Activation::tanh),
          pool(LayerKind::max_pool2d, 3, 2, 1, 2, true),
          simple(LayerKind::batch_norm),
          conv(4, 2, 2, 1, 1, false, Activation::sigmoid),
          pool(LayerKind::avg_pool2d, 2, 3, 2, 1, true),
          simple(LayerKind::flatten),
          dense(6, Activation::tanh),
          dense(3, Activation::softmax)};
}

void randomize(Network& net, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.4f);
  for (auto& p : net.params()) p = normal(rng);
}

void test_gradients_match_finite_differences() {
  Network net(odd_network(), Shape{7, 6, 2, 3});
  CHECK(net.output_shape().c == 3 && net.output_shape().rank == 1);
  randomize(net, 1);
  const std::int64_t n = 5;
  std::vector<float> x(std::size_t(n * net.input_shape().size()));
  std::mt19937_64 rng(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  std::vector<std::int32_t> labels = {0, 2, 1, 1, 0};
  Targets y{labels.data(), nullptr};
  std::vector<float> dx(x.size());
  const BatchStats base = net.gradients(x.data(), y, n, Loss::sparse_categorical_crossentropy, 0, dx.data(), 2);
  CHECK(base.count == n);
  const std::vector<float> grads(net.grads().begin(), net.grads().end());
  const float h = 1e-2f;
  for (std::size_t i = 0; i < grads.size(); i += 7) {
    const float keep = net.params()[i];
    net.params()[i] = keep + h;
    const double up = net.gradients(x.data(), y, n, Loss::sparse_categorical_crossentropy, 0, nullptr, 1).loss_sum;
    net.params()[i] = keep - h;
    const double down = net.gradients(x.data(), y, n, Loss::sparse_categorical_crossentropy, 0, nullptr, 1).loss_sum;
    net.params()[i] = keep;
    CHECK_NEAR(grads[i], (up - down) / (2.0 * h * double(n)), 3e-2);
  }
  // the input gradient too
  for (std::size_t i = 0; i < x.size(); i += 11) {
    const float keep = x[i];
    x[i] = keep + h;
    const double up = net.gradients(x.data(), y, n, Loss::sparse_categorical_crossentropy, 0, nullptr, 1).loss_sum;
    x[i] = keep - h;
    const double down = net.gradients(x.data(), y, n, Loss::sparse_categorical_crossentropy, 0, nullptr, 1).loss_sum;
    x[i] = keep;
    CHECK_NEAR(dx[i], (up - down) / (2.0 * h * double(n)), 3e-2);
  }
}

// forward + backward from the loss gradient give the fused step's gradients (mse: the same
// kernels), added up over calls; a frozen layer gets none and keeps its weights.
void test_primitives_and_frozen_layers() {
  Network net(odd_network(), Shape{7, 6, 2, 3});
  randomize(net, 3);
  const std::int64_t n = 4, width = net.output_shape().size();
  std::vector<float> x(std::size_t(n * net.input_shape().size())), t(std::size_t(n * width));
  std::mt19937_64 rng(4);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  for (auto& v : t) v = normal(rng);
  const Targets y{nullptr, t.data()};
  net.gradients(x.data(), y, n, Loss::mse, 0, nullptr, 2);
  const std::vector<float> fused(net.grads().begin(), net.grads().end());
  std::fill(net.accumulated_grads().begin(), net.accumulated_grads().end(), 0.0f);
  for (int call = 0; call < 2; ++call) {
    const float* out = net.forward(x.data(), n, 0, 2);
    std::vector<float> dy(std::size_t(n * width));
    loss_and_gradient(out, y, n, 1, width, Loss::mse, dy.data(), 1);
    net.backward(dy.data(), nullptr, 2);
  }
  for (std::size_t i = 0; i < fused.size(); ++i) CHECK(net.accumulated_grads()[i] == 2 * fused[i]);
  CHECK_THROWS(std::invalid_argument, net.backward(t.data(), nullptr, 1));  // taken back once already
  net.set_trainable(0, false);
  const std::vector<float> before(net.params().begin(), net.params().end());
  OptimizerConfig sgd;
  sgd.kind = OptimizerConfig::sgd;
  net.apply_gradients(sgd, 2);
  const std::size_t frozen_end = std::size_t(net.slots()[1].offset + net.slots()[1].size());  // layer 0's kernel, bias
  std::size_t changed = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (i < frozen_end) CHECK(net.params()[i] == before[i]);
    changed += net.params()[i] != before[i];
  }
  CHECK(changed > (before.size() - frozen_end) / 2);
}

void test_training_is_deterministic_across_threads() {
  std::vector<LayerConfig> layers = odd_network();
  LayerConfig drop;
  drop.kind = LayerKind::dropout;
  drop.rate = 0.3f;
  layers.insert(layers.begin() + 6, drop);
  const std::int64_t n = 40;
  std::vector<float> x(std::size_t(n) * 7 * 6 * 2);
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (auto& v : x) v = unit(rng);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = std::int32_t(i % 3);
  std::vector<std::int64_t> idx(17);
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = std::int64_t((i * 7) % std::size_t(n));
  OptimizerConfig opt;
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    Network net(layers, Shape{7, 6, 2, 3});
    randomize(net, 5);
    for (std::uint64_t step = 0; step < 3; ++step)
      net.train_step(x.data(), Targets{labels.data(), nullptr}, idx.data(), std::int64_t(idx.size()),
                     Loss::sparse_categorical_crossentropy, opt, step, threads);
    std::vector<float> out(std::size_t(n * 3));
    net.predict(x.data(), n, out.data(), 9, threads);
    out.insert(out.end(), net.params().begin(), net.params().end());
    out.insert(out.end(), net.state().begin(), net.state().end());
    results.push_back(out);
  }
  CHECK(results[0] == results[1]);
  CHECK(results[0] == results[2]);
}

void test_optimizers() {
  // one linear unit, mse: the gradient of (w x + b - t)^2 is known in closed form
  Network net({dense(1, Activation::linear)}, Shape{1, 1, 1, 1});
  net.params() = {0.5f, 0.0f};
  const float x = 2.0f, t = 1.0f;
  const std::int64_t idx = 0;
  OptimizerConfig sgd;
  sgd.kind = OptimizerConfig::sgd;
  sgd.learning_rate = 0.1;
  net.train_step(&x, Targets{nullptr, &t}, &idx, 1, Loss::mse, sgd, 0, 1);
  // gradient: 2 (1 - 1) x = 0 at w=0.5: no move
  CHECK_NEAR(net.params()[0], 0.5, 1e-7);
  net.params() = {1.0f, 0.0f};
  net.train_step(&x, Targets{nullptr, &t}, &idx, 1, Loss::mse, sgd, 0, 1);
  // prediction 2, residual 1: dw = 2 * 1 * 2 = 4, db = 2
  CHECK_NEAR(net.params()[0], 1.0 - 0.4, 1e-6);
  CHECK_NEAR(net.params()[1], -0.2, 1e-6);
  OptimizerConfig adam;  // first Adam step moves every weight by lr (the sign of its gradient)
  net.params() = {1.0f, 0.0f};
  net.opt_m().assign(2, 0.0f), net.opt_v().assign(2, 0.0f), net.opt_step() = 0;
  net.train_step(&x, Targets{nullptr, &t}, &idx, 1, Loss::mse, adam, 0, 1);
  CHECK_NEAR(net.params()[0], 1.0 - 1e-3, 1e-6);
  CHECK_NEAR(net.params()[1], -1e-3, 1e-6);
}

void test_bad_input() {
  CHECK_THROWS(std::invalid_argument, Network({conv(2, 5, 5, 1, 1, false, Activation::relu)}, Shape{3, 3, 1, 3}));
  CHECK_THROWS(std::invalid_argument, Network({conv(2, 3, 3, 1, 1, false, Activation::relu)}, Shape{1, 1, 4, 1}));
  CHECK_THROWS(std::invalid_argument, Network({}, Shape{2, 2, 1, 3}));
  Network net({dense(3, Activation::softmax)}, Shape{1, 1, 2, 1});
  std::vector<float> x = {1.0f, 2.0f};
  std::vector<std::int32_t> labels = {3};
  const std::int64_t idx = 0;
  CHECK_THROWS(std::invalid_argument, net.train_step(x.data(), Targets{labels.data(), nullptr}, &idx, 1,
                                                     Loss::sparse_categorical_crossentropy, OptimizerConfig{}, 0, 1));
  CHECK_THROWS(std::invalid_argument, net.train_step(x.data(), Targets{nullptr, nullptr}, &idx, 1, Loss::mse,
                                                     OptimizerConfig{}, 0, 1));
  CHECK_THROWS(std::invalid_argument, parse_activation("hard_sigmoid"));
}

// Hyper-parameters and files an adversary chooses: correct results or std::invalid_argument
// (the sanitizers catch any read out of bounds on the way).
void test_hostile_shapes_and_files() {
  const int big = 2147483647;
  Network strided({conv(1, 3, 3, big, big, true, Activation::linear)}, Shape{8, 8, 1, 3});
  CHECK(strided.output_shape().h == 1 && strided.output_shape().w == 1);
  Network global({pool(LayerKind::max_pool2d, 60000, 60000, 60000, 60000, true)}, Shape{8, 8, 1, 3});
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[std::size_t(i)] = float((i * 37) % 64);
  float y = 0.0f;
  global.predict(x.data(), 1, &y, 1, 1);
  CHECK(y == 63.0f);
  CHECK_THROWS(std::invalid_argument, Network({simple(LayerKind::flatten)}, Shape{65536, 65536, 1, 3}));
  CHECK_THROWS(std::invalid_argument, Network({dense(1 << 25, Activation::linear)}, Shape{1, 1, 784, 1}));

  // every byte of a saved file flipped, and every truncation: loads or refuses, never crashes
  Network net({conv(2, 3, 3, 1, 1, false, Activation::relu), pool(LayerKind::max_pool2d, 2, 2, 2, 2, false),
               simple(LayerKind::flatten), dense(3, Activation::softmax)},
              Shape{6, 6, 1, 3});
  const std::string path = "test_nn_hostile.sgnn", bad = "test_nn_hostile_bad.sgnn";
  save_network(net, path);
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int refused = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (int variant = 0; variant < 2; ++variant) {
      std::string mutated = variant == 0 ? bytes : bytes.substr(0, i);
      if (variant == 0) mutated[i] = char(mutated[i] ^ (1 << (i % 8)));
      std::ofstream(bad, std::ios::binary) << mutated;
      try {
        auto loaded = load_network(bad);
        std::vector<float> image(std::size_t(loaded->input_shape().size()), 1.0f);
        std::vector<float> out(std::size_t(loaded->output_shape().size()));
        loaded->predict(image.data(), 1, out.data(), 1, 1);
      } catch (const std::invalid_argument&) {
        ++refused;
      }
    }
  CHECK(refused > int(bytes.size()));  // every truncation, and the flips of headers and sizes
  std::remove(path.c_str());
  std::remove(bad.c_str());
}

}  // namespace

int main() {
  test_gradients_match_finite_differences();
  test_primitives_and_frozen_layers();
  test_training_is_deterministic_across_threads();
  test_optimizers();
  test_bad_input();
  test_hostile_shapes_and_files();
  TEST_MAIN_END();
}
