#pragma once
/// A sequential network of float32 layers on channels-last (NHWC) tensors: inference,
/// and training steps (forward, loss, backward, optimizer update) in one call per batch.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "scalegen/common/aligned.hpp"

namespace scalegen::nn {

/// Element-wise (or, for softmax, last-axis) activation fused into a layer's output.
enum class Activation : int {
  linear = 0,
  relu = 1,
  sigmoid = 2,
  tanh = 3,
  softmax = 4,
  leaky_relu = 5,  ///< x for x > 0, else alpha x (alpha >= 0)
  elu = 6,         ///< x for x > 0, else alpha (e^x - 1)
  gelu = 7,        ///< x Phi(x), exact (Keras' default)
  softplus = 8,
  swish = 9,         ///< x sigmoid(x)
  log_softmax = 10,  ///< the logarithm of softmax over the last axis
};

/// The layer types of scalegen.nn.
enum class LayerKind : int {
  conv2d = 0,
  max_pool2d = 1,
  avg_pool2d = 2,
  flatten = 3,
  dense = 4,
  dropout = 5,
  batch_norm = 6,
  activation = 7,
  conv2d_transpose = 8,
  up_sampling2d = 9,
  reshape = 10,
  global_average_pooling2d = 11,
  zero_padding2d = 12,
  prelu = 13,
};

/// One layer's hyper-parameters; fields a kind does not use are ignored.
struct LayerConfig {
  LayerKind kind = LayerKind::dense;
  int filters = 0;                 ///< conv2d output channels
  int units = 0;                   ///< dense output width
  int kernel_h = 1, kernel_w = 1;  ///< conv2d kernel, pooling window, or up-sampling factors
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;  ///< conv2d: taps this many rows and columns apart
  int groups = 1;                      ///< conv2d: channels and filters split in this many groups
  bool same_padding = false;           ///< 'same' (TensorFlow's rule) instead of 'valid'
  int pad_top = -1, pad_bottom = -1, pad_left = -1, pad_right = -1;  ///< explicit (ONNX) when >= 0; zero padding
  int output_padding_h = -1, output_padding_w = -1;                  ///< conv2d_transpose (Keras' None: -1)
  int target_h = 0, target_w = 0, target_c = 0;                      ///< reshape: (h, w, c), or (c) with h = w = 0
  bool bilinear = false;                                             ///< up-sampling: bilinear, else nearest
  bool share_h = false, share_w = false, share_c = false;            ///< prelu: alpha shared along these axes
  bool use_bias = true;
  Activation activation = Activation::linear;
  float alpha = 0.0f;                       ///< the activation's parameter: leaky_relu's slope, elu's alpha
  float rate = 0.0f;                        ///< dropout rate
  float momentum = 0.99f, epsilon = 1e-3f;  ///< batch normalization
  bool center = true, scale = true;         ///< batch normalization: beta, gamma
};

/// One spatial axis of a convolution or pooling window: its output size and the padding
/// before the first cell and after the last.
struct WindowAxis {
  int out = 0, pad_begin = 0, pad_end = 0;
};

/// The one place of TensorFlow's padding rule: 'same' gives ceil(size / stride) outputs,
/// the odd padding cell at the end; 'valid' gives floor((size - window) / stride) + 1;
/// explicit paddings (ONNX's pads, when begin >= 0) take precedence. Sizes are computed in
/// 64 bits; an empty or oversized output throws std::invalid_argument naming `who`.
WindowAxis window_axis(int size, int window, int stride, bool same, int begin, int end, const std::string& who);

/// One axis of a transposed convolution: Keras' output length (deconv_output_length; an
/// output_padding < 0 is Keras' None), where its first window starts (pad_begin: TensorFlow's
/// conv2d_transpose drops the cells the 'same' rule pads before the input), and the cells of
/// the full transposed output dropped after the last one (pad_end; an output_padding past
/// the full output is not one). Explicit paddings (begin, end >= 0, as ONNX and PyTorch give
/// them) drop that many cells at each end instead. Throws std::invalid_argument naming `who`.
WindowAxis deconv_axis(int size, int window, int stride, bool same, int output_padding, int begin, int end,
                       const std::string& who);

/// A tensor shape without the batch axis: (h, w, c); rank 1 is (1, 1, c) with rank = 1.
struct Shape {
  int h = 1, w = 1, c = 1;
  int rank = 3;
  std::int64_t size() const { return std::int64_t(h) * w * c; }
};

/// The number of values of a tensor of this shape (shapes of built layers: no overflow).
inline std::int64_t shape_size(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

/// Where one parameter tensor lives in the flat parameter (or state) vector.
struct ParamSlot {
  int layer = 0;
  std::string name;  ///< kernel, bias, gamma, beta, moving_mean, moving_variance
  std::vector<std::int64_t> shape;
  std::int64_t offset = 0;
  bool trainable = true;  ///< false: in the state vector (batch-norm moving statistics)
  std::int64_t size() const { return shape_size(shape); }
};

/// The loss minimised by train_step; the mean over the batch, as Keras reports it.
enum class Loss : int {
  sparse_categorical_crossentropy = 0,
  categorical_crossentropy = 1,
  mse = 2,
  binary_crossentropy = 3,
  mae = 4,
};

/// A loss, and whether the network's outputs are logits (Keras' from_logits) rather than
/// probabilities for a cross-entropy.
struct LossSpec {
  LossSpec(Loss k, bool logits = false) : kind(k), from_logits(logits) {}  // NOLINT: a Loss is a LossSpec
  Loss kind;
  bool from_logits;
};

/// Optimizer settings (Keras' update rules); the learning rate may change between steps.
struct OptimizerConfig {
  enum Kind : int { sgd = 0, adam = 1, rmsprop = 2 } kind = adam;
  double learning_rate = 1e-3;
  double beta_1 = 0.9, beta_2 = 0.999;  ///< Adam
  double epsilon = 1e-7;                ///< Adam, RMSprop
  double rho = 0.9;                     ///< RMSprop
  double momentum = 0.0;                ///< SGD, RMSprop
  bool nesterov = false;                ///< SGD
};

/// Targets of a batch: class labels (sparse loss) or a row of floats per sample, and the
/// samples' weights in the loss (Keras' sample_weight: the loss is the sum of weight x loss
/// over the rows divided by the number of rows).
struct Targets {
  const std::int32_t* labels = nullptr;  ///< n labels, for the sparse loss
  const float* values = nullptr;         ///< n x output width, for the other losses
  const float* weights = nullptr;        ///< n weights, or null for weights of 1
};

/// Sums over the rows of one call: the caller divides by `count` for means.
struct BatchStats {
  double loss_sum = 0.0;  ///< sum over rows of the (weighted) per-row loss
  double correct = 0.0;   ///< rows whose argmax matches the target (or the share of values on the right side of 0.5)
  double abs_error_sum = 0.0;      ///< sum over rows of the mean |output - target| (value targets)
  double squared_error_sum = 0.0;  ///< and of the mean (output - target)^2
  std::int64_t count = 0;
};

class Layer;

/// A sequential network: parameters in one flat float32 vector, training caches owned by
/// the network (one training call at a time), inference reentrant (concurrent predict calls
/// are safe while no training step runs).
class Network {
 public:
  /// Builds the layers for inputs of `input_shape`; throws std::invalid_argument when a
  /// layer does not accept the shape it receives.
  Network(const std::vector<LayerConfig>& layers, Shape input_shape);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  /// How many parameter and state values a network of these layers holds.
  struct ValueCounts {
    std::int64_t params = 0, state = 0;
  };
  /// Checks the layers and their sizes against scalegen's limits without allocating their
  /// tensors (a file's declared network is measured before it is read).
  static ValueCounts value_counts(const std::vector<LayerConfig>& layers, Shape input_shape) {
    return build(layers, input_shape, nullptr, nullptr);
  }

  /// The layers' hyper-parameters as given.
  const std::vector<LayerConfig>& configs() const { return configs_; }
  /// The input shape and each layer's output shape.
  Shape input_shape() const { return input_shape_; }
  const std::vector<Shape>& output_shapes() const { return shapes_; }
  Shape output_shape() const { return shapes_.back(); }
  std::int64_t layer_count() const { return std::int64_t(layers_.size()); }

  /// Trainable parameters (kernels, biases, gammas, betas) and state (moving statistics).
  const std::vector<ParamSlot>& slots() const { return slots_; }
  AlignedVector<float>& params() { return params_; }
  const AlignedVector<float>& params() const { return params_; }
  AlignedVector<float>& state() { return state_; }
  const AlignedVector<float>& state() const { return state_; }
  /// Gradients of the last train_step or gradients() (same layout as params()); backward()
  /// leaves its batch's in accumulated_grads() only.
  const AlignedVector<float>& grads() const { return grads_; }

  /// Optimizer moments and step count (Adam: m, v; SGD: momentum in m; RMSprop: v and momentum in m).
  AlignedVector<float>& opt_m() { return m_; }
  AlignedVector<float>& opt_v() { return v_; }
  std::int64_t& opt_step() { return step_; }

  /// Inference: rows [0, n) of x (n x input size) into out (n x output size), by batches
  /// of `batch_size` rows.
  void predict(const float* x, std::int64_t n, float* out, std::int64_t batch_size, int n_threads) const;

  /// Loss and accuracy counts of inference outputs over n rows (by batches).
  BatchStats evaluate(const float* x, std::int64_t n, const Targets& y, LossSpec loss, std::int64_t batch_size,
                      int n_threads) const;

  /// One training step on the rows idx[0..n) of x and of the targets: forward pass in
  /// training mode, loss, backward pass, gradients into grads(), optimizer update.
  /// `seed` draws the dropout masks (same seed, same masks, whatever the thread count).
  BatchStats train_step(const float* x, const Targets& y, const std::int64_t* idx, std::int64_t n, LossSpec loss,
                        const OptimizerConfig& opt, std::uint64_t seed, int n_threads);

  /// Forward pass in training mode and backward pass only: loss stats, gradients in grads()
  /// and the gradient of the mean loss with respect to the input in dx (n x input size,
  /// may be null). Parameters are not updated. For tests against other frameworks.
  BatchStats gradients(const float* x, const Targets& y, std::int64_t n, LossSpec loss, std::uint64_t seed, float* dx,
                       int n_threads);

  // ---- training primitives, for custom training loops and chained networks
  /// Forward pass in training mode over n rows of x (copied): the output (n x output size),
  /// valid until the next training call; what backward needs is kept.
  const float* forward(const float* x, std::int64_t n, std::uint64_t seed, int n_threads);
  /// Backward pass of the last forward, taken once: dy is the gradient of the loss with
  /// respect to that output; the parameter gradients are added to accumulated_grads(), and dx
  /// (n x input size, may be null) receives the gradient with respect to the input.
  void backward(const float* dy, float* dx, int n_threads);
  /// forward() reading x where it is, not a copy: x must stay unchanged until the backward pass.
  const float* forward_in_place(const float* x, std::int64_t n, std::uint64_t seed, int n_threads);
  /// After a training forward pass: where backward_from_output_gradient() reads the gradient
  /// at the output (n x output size floats), for a caller to write it there without a copy.
  float* output_gradient();
  /// backward() from the gradient written at output_gradient().
  void backward_from_output_gradient(float* dx, int n_threads);
  /// The rows of the forward pass backward is waiting for (0: none).
  std::int64_t forward_rows() const { return batch_; }
  /// Gradients added up by backward since they were last zeroed (layout of params()).
  AlignedVector<float>& accumulated_grads() {
    if (accumulated_zero_) std::fill(accumulated_.begin(), accumulated_.end(), 0.0f);
    accumulated_zero_ = false;
    return accumulated_;
  }
  /// Zeroes accumulated_grads(), lazily: the next backward copies its gradients there
  /// instead of zeroing and adding.
  void zero_accumulated_grads() { accumulated_zero_ = true; }
  /// One optimizer step from accumulated_grads() (they are not zeroed).
  void apply_gradients(const OptimizerConfig& opt, int n_threads);

  /// Whether a layer's weights train: a frozen layer (false) is left alone by optimizer
  /// steps, gets zero gradients, and a frozen batch normalization runs in inference mode.
  void set_trainable(std::int64_t layer, bool trainable);
  bool trainable(std::int64_t layer) const;

 private:
  static ValueCounts build(const std::vector<LayerConfig>& layers, Shape input_shape,
                           std::vector<std::unique_ptr<Layer>>* built, std::vector<ParamSlot>* slots);
  BatchStats forward_backward(const float* x, const Targets& y, std::int64_t n, LossSpec loss, std::uint64_t seed,
                              float* dx, int n_threads);
  // The training forward pass of n rows of x, which must stay unchanged until the backward
  // pass: the output.
  const float* forward_pass(const float* x, std::int64_t n, std::uint64_t seed, int n_threads);
  // The backward pass from the gradient at the output in grad_a_ (at the last layer's
  // pre-activation values when pre_activation): parameter gradients in grads_.
  void backward_pass(const float* x, bool pre_activation, float* dx, int n_threads);
  // [begin, end) of the parameters that train, and of those frozen.
  std::vector<std::pair<std::int64_t, std::int64_t>> trainable_ranges() const;
  std::vector<std::pair<std::int64_t, std::int64_t>> frozen_ranges() const;
  void check_targets(const Targets& y, std::int64_t n, LossSpec loss) const;

  Shape input_shape_;
  std::vector<LayerConfig> configs_;
  std::vector<Shape> shapes_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<ParamSlot> slots_;
  AlignedVector<float> params_, grads_, state_, m_, v_;  // 64-byte aligned: vector loads of whole lines
  AlignedVector<float> accumulated_;
  bool accumulated_zero_ = false;  // accumulated_ stands for zeros (zero_accumulated_grads)
  std::int64_t step_ = 0;
  // training buffers: each layer's output for the batch (outs_: where it is, or the input
  // for a passthrough), two gradient buffers, the batch's rows and their count
  std::vector<AlignedVector<float>> acts_;
  std::vector<const float*> outs_;
  AlignedVector<float> grad_a_, grad_b_, input_;
  const float* kept_input_ = nullptr;  // the input the backward pass reads (input_ or the caller's)
  std::int64_t batch_ = 0;
  std::vector<bool> relu_absorbed_;              // layer i's relu derivative is applied by layer i + 1
  std::vector<bool> fused_infer_, fused_train_;  // layer i runs layer i + 1 within its passes
};

/// Writes the network (layers, input shape, parameters, moving statistics) to a binary
/// file that load_network reads: little-endian, "SGNN" + format version, no Python needed.
void save_network(const Network& net, const std::string& path);

/// Reads a network written by save_network (or by scalegen.nn's Sequential.save_native);
/// throws std::invalid_argument for a missing, truncated or inconsistent file.
std::unique_ptr<Network> load_network(const std::string& path);

/// The loss training steps minimise, of `rows` rows of `width` outputs y (the last axis)
/// against t (labels or values by row; weights by sample, `per_sample` rows a sample), and
/// d(mean loss)/dy in grad (rows x width, may be null). Sums over rows, as BatchStats.
BatchStats loss_and_gradient(const float* y, const Targets& t, std::int64_t rows, std::int64_t per_sample,
                             std::int64_t width, LossSpec loss, float* grad, int n_threads);

/// A VAE's reconstruction term over n samples of d values (z: the decoder's outputs, x: the
/// data): per_sample[i] = -log p(x_i | z_i) summed in double, without the Gaussian's constant
/// (Bernoulli logits: max(z, 0) - z x + log1p(e^-|z|); Gaussian means: (z - x)^2 / 2), and
/// grad = its derivative in z (sigmoid(z) - x, or z - x) divided by grad_divisor,
/// element-wise in float32.
void reconstruction_terms(const float* z, const float* x, std::int64_t n, std::int64_t d, bool bernoulli,
                          double* per_sample, float* grad, float grad_divisor, int n_threads);

/// A VAE batch's loss terms, means over its samples.
struct VaeTerms {
  double loss = 0.0, reconstruction = 0.0, kl = 0.0;
};

/// One VAE batch of n samples: the gradients of its mean loss, -log p(x | z) + beta KL(q(z |
/// x) || N(0, I)), replace both networks' accumulated gradients. The encoder maps enc_in to
/// 2 latent values a sample (means, then log-variances); z = mean + exp(log_var / 2) eps
/// (eps: n x latent); the decoder maps z, with the n x n_cond values of cond appended (a
/// conditional VAE's one-hot labels; null when n_cond = 0), to Bernoulli logits or Gaussian
/// means of the d = decoder output size values of x (the Gaussian's -log p with its
/// constant). The means and log-variances are taken in double, as are the sums.
VaeTerms vae_gradients(Network& encoder, Network& decoder, const float* enc_in, const float* x, const float* cond,
                       std::int64_t n_cond, const double* eps, std::int64_t n, std::int64_t latent, double beta,
                       bool bernoulli, std::uint64_t encoder_seed, std::uint64_t decoder_seed, int n_threads);

/// An unconditional VAE's training on batches: for each batch of batch_size rows of x (rows x d, d the
/// encoder's input size) taken in `order` (n indices), vae_gradients with the batch's rows
/// of eps (n x latent) and its two seeds, then one `opt` step of each network. terms[b]
/// receives batch b's means; a batch whose loss is not finite ends the run before its
/// update. Returns the number of batches run.
std::int64_t vae_train_batches(Network& encoder, Network& decoder, const float* x, std::int64_t rows,
                               const std::int64_t* order, std::int64_t n, std::int64_t batch_size, const double* eps,
                               const std::uint64_t* encoder_seeds, const std::uint64_t* decoder_seeds,
                               std::int64_t latent, double beta, bool bernoulli, const OptimizerConfig& opt,
                               VaeTerms* terms, int n_threads);

/// True when x[0..n) holds a NaN or an infinity (one pass over the bits).
bool any_non_finite(const float* x, std::int64_t n);

/// Activation name as Keras spells it ("relu", ...); throws for an unknown name.
Activation parse_activation(const std::string& name);

/// The optimizer kind of a Keras name ('adam', 'sgd', 'rmsprop'); throws std::invalid_argument.
OptimizerConfig::Kind parse_optimizer(const std::string& name);

}  // namespace scalegen::nn
