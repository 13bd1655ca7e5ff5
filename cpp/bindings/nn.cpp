#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>

#include "bindings.hpp"
#include "scalegen/nn/network.hpp"

namespace scalegen::bindings {
namespace {

using namespace scalegen::nn;

py::tuple shape_tuple(const Shape& s) {
  if (s.rank == 1) return py::make_tuple(s.c);
  return py::make_tuple(s.h, s.w, s.c);
}

// Rows of x (n, *input shape) after checking the size per row.
std::int64_t rows_of(const Network& net, const CArray<float>& x) {
  if (x.ndim() < 1) throw std::invalid_argument("x must have a batch axis");
  const std::int64_t n = x.shape(0);
  if (n * net.input_shape().size() != x.size())
    throw std::invalid_argument("x does not have the network's input size per row");
  return n;
}

Targets targets(const Network& net, std::int64_t n, const std::optional<CArray<std::int32_t>>& labels,
                const std::optional<CArray<float>>& values, const std::optional<CArray<float>>& weights) {
  Targets t;
  if (weights) {
    if (weights->size() != n) throw std::invalid_argument("one sample weight per row is needed");
    t.weights = weights->data();
  }
  if (labels) {
    if (labels->size() != n) throw std::invalid_argument("one label per row is needed");
    t.labels = labels->data();
  }
  if (values) {
    if (values->size() != n * net.output_shape().size())
      throw std::invalid_argument("the targets do not have the output's size per row");
    t.values = values->data();
  }
  return t;
}

// (loss sum, correct, count, absolute error sum, squared error sum): sums over rows.
py::tuple stats_tuple(const BatchStats& s) {
  return py::make_tuple(s.loss_sum, s.correct, s.count, s.abs_error_sum, s.squared_error_sum);
}

void copy_into(AlignedVector<float>& dst, const CArray<float>& src, const char* what) {
  if (std::size_t(src.size()) != dst.size())
    throw std::invalid_argument(std::string(what) + " has " + std::to_string(src.size()) + " values, expected " +
                                std::to_string(dst.size()));
  std::copy(src.data(), src.data() + src.size(), dst.begin());
}

}  // namespace

void bind_nn(py::module_& m) {
  m.def(
      "nn_window_axis",
      [](int size, int window, int stride, bool same) {
        const WindowAxis a = window_axis(size, window, stride, same, -1, -1, "window");
        return py::make_tuple(a.out, a.pad_begin, a.pad_end);
      },
      py::arg("size"), py::arg("window"), py::arg("stride"), py::arg("same"),
      "(output size, padding before, padding after) of one axis under TensorFlow's 'same'/'valid' rule.");
  m.def(
      "nn_deconv_axis",
      [](int size, int window, int stride, bool same, int output_padding, int begin, int end) {
        const WindowAxis a = deconv_axis(size, window, stride, same, output_padding, begin, end, "window");
        return py::make_tuple(a.out, a.pad_begin, a.pad_end);
      },
      py::arg("size"), py::arg("window"), py::arg("stride"), py::arg("same"), py::arg("output_padding"),
      py::arg("begin") = -1, py::arg("end") = -1,
      "(output size, cells dropped before, cells dropped after) of a transposed convolution's axis.");
  py::enum_<LayerKind>(m, "LayerKind", py::module_local(), "The layer types of the core.")
      .value("conv2d", LayerKind::conv2d)
      .value("max_pool2d", LayerKind::max_pool2d)
      .value("avg_pool2d", LayerKind::avg_pool2d)
      .value("flatten", LayerKind::flatten)
      .value("dense", LayerKind::dense)
      .value("dropout", LayerKind::dropout)
      .value("batch_norm", LayerKind::batch_norm)
      .value("activation", LayerKind::activation)
      .value("conv2d_transpose", LayerKind::conv2d_transpose)
      .value("up_sampling2d", LayerKind::up_sampling2d)
      .value("reshape", LayerKind::reshape)
      .value("global_average_pooling2d", LayerKind::global_average_pooling2d)
      .value("zero_padding2d", LayerKind::zero_padding2d)
      .value("prelu", LayerKind::prelu);
  py::enum_<Activation>(m, "Activation", py::module_local(), "Activations fused into a layer's output.")
      .value("linear", Activation::linear)
      .value("relu", Activation::relu)
      .value("sigmoid", Activation::sigmoid)
      .value("tanh", Activation::tanh)
      .value("softmax", Activation::softmax)
      .value("leaky_relu", Activation::leaky_relu)
      .value("elu", Activation::elu)
      .value("gelu", Activation::gelu)
      .value("softplus", Activation::softplus)
      .value("swish", Activation::swish)
      .value("log_softmax", Activation::log_softmax);
  py::enum_<Loss>(m, "Loss", py::module_local(), "The losses a training step minimises.")
      .value("sparse_categorical_crossentropy", Loss::sparse_categorical_crossentropy)
      .value("categorical_crossentropy", Loss::categorical_crossentropy)
      .value("mse", Loss::mse)
      .value("binary_crossentropy", Loss::binary_crossentropy)
      .value("mae", Loss::mae);
  m.def(
      "nn_loss",
      [](const CArray<float>& y, std::optional<CArray<std::int32_t>> labels, std::optional<CArray<float>> values,
         std::optional<CArray<float>> weights, Loss loss, bool from_logits, int n_threads) {
        if (y.ndim() < 2) throw std::invalid_argument("the outputs need a batch axis and a last axis");
        const std::int64_t width = y.shape(y.ndim() - 1), rows = y.size() / std::max<std::int64_t>(width, 1);
        const std::int64_t samples = y.shape(0), per_sample = samples ? rows / samples : 0;
        Targets t;
        if (labels) {
          if (labels->size() != rows) throw std::invalid_argument("one label per row of outputs is needed");
          t.labels = labels->data();
        }
        if (values) {
          if (values->size() != y.size()) throw std::invalid_argument("the targets must have the outputs' shape");
          t.values = values->data();
        }
        if (weights) {
          if (weights->size() != samples) throw std::invalid_argument("one sample weight per sample is needed");
          t.weights = weights->data();
        }
        py::array_t<float> grad(std::vector<py::ssize_t>(y.shape(), y.shape() + y.ndim()));
        float* g = grad.mutable_data();
        BatchStats s;
        {
          py::gil_scoped_release release;
          s = loss_and_gradient(y.data(), t, rows, per_sample, width, {loss, from_logits}, g, n_threads);
        }
        return py::make_tuple(stats_tuple(s), grad);
      },
      py::arg("y"), py::arg("labels"), py::arg("values"), py::arg("weights"), py::arg("loss"), py::arg("from_logits"),
      py::arg("n_threads"), "A training loss over rows of outputs: (stats, d(mean loss)/dy).");
  m.def(
      "nn_reconstruction",
      [](const CArray<float>& z, const CArray<float>& x, bool bernoulli, int n_threads) {
        if (z.ndim() != 2 || x.ndim() != 2 || z.shape(0) != x.shape(0) || z.shape(1) != x.shape(1))
          throw std::invalid_argument("the outputs and the data must be two matrices of the same shape");
        const std::int64_t n = z.shape(0), d = z.shape(1);
        py::array_t<double> per(n);
        py::array_t<float> grad({py::ssize_t(n), py::ssize_t(d)});
        double* p = per.mutable_data();
        float* g = grad.mutable_data();
        {
          py::gil_scoped_release release;
          reconstruction_terms(z.data(), x.data(), n, d, bernoulli, p, g, 1.0f, n_threads);
        }
        return py::make_tuple(per, grad);
      },
      py::arg("z"), py::arg("x"), py::arg("bernoulli"), py::arg("n_threads"),
      "A VAE's reconstruction term per sample (float64, without the Gaussian's constant) and its "
      "gradient in z.");
  py::enum_<OptimizerConfig::Kind>(m, "OptimizerKind", py::module_local(), "The optimizers of a training step.")
      .value("sgd", OptimizerConfig::sgd)
      .value("adam", OptimizerConfig::adam)
      .value("rmsprop", OptimizerConfig::rmsprop);

  py::class_<LayerConfig>(m, "LayerConfig", py::module_local(),
                          "One layer's hyper-parameters (see scalegen.nn.layers).")
      .def(py::init<>())
      .def_readwrite("kind", &LayerConfig::kind)
      .def_readwrite("filters", &LayerConfig::filters)
      .def_readwrite("units", &LayerConfig::units)
      .def_readwrite("kernel_h", &LayerConfig::kernel_h)
      .def_readwrite("kernel_w", &LayerConfig::kernel_w)
      .def_readwrite("stride_h", &LayerConfig::stride_h)
      .def_readwrite("stride_w", &LayerConfig::stride_w)
      .def_readwrite("same_padding", &LayerConfig::same_padding)
      .def_readwrite("pad_top", &LayerConfig::pad_top)
      .def_readwrite("pad_bottom", &LayerConfig::pad_bottom)
      .def_readwrite("pad_left", &LayerConfig::pad_left)
      .def_readwrite("pad_right", &LayerConfig::pad_right)
      .def_readwrite("dilation_h", &LayerConfig::dilation_h)
      .def_readwrite("dilation_w", &LayerConfig::dilation_w)
      .def_readwrite("groups", &LayerConfig::groups)
      .def_readwrite("output_padding_h", &LayerConfig::output_padding_h)
      .def_readwrite("output_padding_w", &LayerConfig::output_padding_w)
      .def_readwrite("target_h", &LayerConfig::target_h)
      .def_readwrite("target_w", &LayerConfig::target_w)
      .def_readwrite("target_c", &LayerConfig::target_c)
      .def_readwrite("bilinear", &LayerConfig::bilinear)
      .def_readwrite("share_h", &LayerConfig::share_h)
      .def_readwrite("share_w", &LayerConfig::share_w)
      .def_readwrite("share_c", &LayerConfig::share_c)
      .def_readwrite("alpha", &LayerConfig::alpha)
      .def_readwrite("use_bias", &LayerConfig::use_bias)
      .def_property(
          "activation", [](const LayerConfig& c) { return c.activation; },
          [](LayerConfig& c, const std::string& name) { c.activation = parse_activation(name); },
          "An Activation; set by Keras name ('relu', ...), parsed in the core.")
      .def_readwrite("rate", &LayerConfig::rate)
      .def_readwrite("momentum", &LayerConfig::momentum)
      .def_readwrite("epsilon", &LayerConfig::epsilon)
      .def_readwrite("center", &LayerConfig::center)
      .def_readwrite("scale", &LayerConfig::scale);

  py::class_<OptimizerConfig>(m, "OptimizerConfig", py::module_local(), "Optimizer settings of a training step.")
      .def(py::init<>())
      .def_property(
          "kind", [](const OptimizerConfig& o) { return o.kind; },
          [](OptimizerConfig& o, const std::string& name) { o.kind = parse_optimizer(name); },
          "An OptimizerKind; set by Keras name ('adam', 'sgd', 'rmsprop'), parsed in the core.")
      .def_readwrite("learning_rate", &OptimizerConfig::learning_rate)
      .def_readwrite("beta_1", &OptimizerConfig::beta_1)
      .def_readwrite("beta_2", &OptimizerConfig::beta_2)
      .def_readwrite("epsilon", &OptimizerConfig::epsilon)
      .def_readwrite("rho", &OptimizerConfig::rho)
      .def_readwrite("momentum", &OptimizerConfig::momentum)
      .def_readwrite("nesterov", &OptimizerConfig::nesterov);

  py::class_<Network>(m, "Network", py::module_local(), "A sequential float32 network on channels-last tensors.")
      .def(py::init([](const std::vector<LayerConfig>& layers, const std::vector<int>& input_shape) {
             Shape s;
             if (input_shape.size() == 1) {
               s = Shape{1, 1, input_shape[0], 1};
             } else if (input_shape.size() == 3) {
               s = Shape{input_shape[0], input_shape[1], input_shape[2], 3};
             } else {
               throw std::invalid_argument("the input shape must be (features,) or (height, width, channels)");
             }
             return std::make_unique<Network>(layers, s);
           }),
           py::arg("layers"), py::arg("input_shape"))
      .def_property_readonly("output_shapes",
                             [](const Network& n) {
                               py::list out;
                               for (const auto& s : n.output_shapes()) out.append(shape_tuple(s));
                               return out;
                             })
      .def_property_readonly(
          "slots",
          [](const Network& n) {
            py::list out;
            for (const auto& s : n.slots())
              out.append(py::make_tuple(s.layer, s.name, py::tuple(py::cast(s.shape)), s.offset, s.trainable));
            return out;
          },
          "(layer, name, shape, offset, trainable) of every weight tensor.")
      .def(
          "save", [](const Network& n, const std::string& path) { save_network(n, path); }, py::arg("path"),
          "Writes the native model file that scalegen::nn::load_network reads.")
      .def_static(
          "load", [](const std::string& path) { return load_network(path); }, py::arg("path"),
          "Reads a native model file.")
      .def("get_params", [](const Network& n) { return to_numpy(n.params(), {py::ssize_t(n.params().size())}); })
      .def("set_params", [](Network& n, const CArray<float>& p) { copy_into(n.params(), p, "the parameter vector"); })
      .def("get_state", [](const Network& n) { return to_numpy(n.state(), {py::ssize_t(n.state().size())}); })
      .def("set_state", [](Network& n, const CArray<float>& p) { copy_into(n.state(), p, "the state vector"); })
      .def("get_optimizer_state",
           [](Network& n) {
             const auto size = py::ssize_t(n.opt_m().size());
             return py::make_tuple(to_numpy(n.opt_m(), {size}), to_numpy(n.opt_v(), {size}), n.opt_step());
           })
      .def("set_optimizer_state",
           [](Network& n, const CArray<float>& m, const CArray<float>& v, std::int64_t step) {
             copy_into(n.opt_m(), m, "the first moments");
             copy_into(n.opt_v(), v, "the second moments");
             n.opt_step() = step;
           })
      .def(
          "predict",
          [](const Network& net, const CArray<float>& x, std::int64_t batch_size, int n_threads) {
            const std::int64_t n = rows_of(net, x);
            if (any_non_finite(x.data(), x.size())) throw std::invalid_argument("x contains NaN or infinity");
            std::vector<py::ssize_t> shape{py::ssize_t(n)};
            for (auto d : shape_tuple(net.output_shape())) shape.push_back(d.cast<py::ssize_t>());
            py::array_t<float> out(shape);
            float* o = out.mutable_data();
            {
              py::gil_scoped_release release;
              net.predict(x.data(), n, o, batch_size, n_threads);
            }
            return out;
          },
          py::arg("x"), py::arg("batch_size"), py::arg("n_threads"))
      .def(
          "evaluate",
          [](const Network& net, const CArray<float>& x, std::optional<CArray<std::int32_t>> labels,
             std::optional<CArray<float>> values, std::optional<CArray<float>> weights, Loss loss, bool from_logits,
             std::int64_t batch_size, int n_threads) {
            const std::int64_t n = rows_of(net, x);
            const Targets t = targets(net, n, labels, values, weights);
            BatchStats s;
            {
              py::gil_scoped_release release;
              s = net.evaluate(x.data(), n, t, {loss, from_logits}, batch_size, n_threads);
            }
            return stats_tuple(s);
          },
          py::arg("x"), py::arg("labels"), py::arg("values"), py::arg("weights"), py::arg("loss"),
          py::arg("from_logits"), py::arg("batch_size"), py::arg("n_threads"),
          "(weighted loss sum, correct rows, rows) over all rows.")
      .def(
          "train_step",
          [](Network& net, const CArray<float>& x, std::optional<CArray<std::int32_t>> labels,
             std::optional<CArray<float>> values, std::optional<CArray<float>> weights, const CArray<std::int64_t>& idx,
             Loss loss, bool from_logits, const OptimizerConfig& opt, std::uint64_t seed, int n_threads) {
            const std::int64_t n = rows_of(net, x);
            const Targets t = targets(net, n, labels, values, weights);
            for (std::int64_t i = 0; i < idx.size(); ++i)
              if (idx.data()[i] < 0 || idx.data()[i] >= n) throw std::invalid_argument("batch index out of range");
            BatchStats s;
            {
              py::gil_scoped_release release;
              s = net.train_step(x.data(), t, idx.data(), idx.size(), {loss, from_logits}, opt, seed, n_threads);
            }
            return stats_tuple(s);
          },
          py::arg("x"), py::arg("labels"), py::arg("values"), py::arg("weights"), py::arg("idx"), py::arg("loss"),
          py::arg("from_logits"), py::arg("optimizer"), py::arg("seed"), py::arg("n_threads"),
          "One step on the rows idx of x: forward, loss, backward, update. (loss sum, correct, rows).")
      .def(
          "gradients",
          [](Network& net, const CArray<float>& x, std::optional<CArray<std::int32_t>> labels,
             std::optional<CArray<float>> values, std::optional<CArray<float>> weights, Loss loss, bool from_logits,
             std::uint64_t seed, int n_threads) {
            const std::int64_t n = rows_of(net, x);
            const Targets t = targets(net, n, labels, values, weights);
            py::array_t<float> dx(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
            float* d = dx.mutable_data();
            BatchStats s;
            {
              py::gil_scoped_release release;
              s = net.gradients(x.data(), t, n, {loss, from_logits}, seed, d, n_threads);
            }
            return py::make_tuple(stats_tuple(s), to_numpy(net.grads(), {py::ssize_t(net.grads().size())}), dx);
          },
          py::arg("x"), py::arg("labels"), py::arg("values"), py::arg("weights"), py::arg("loss"),
          py::arg("from_logits"), py::arg("seed"), py::arg("n_threads"),
          "Forward and backward in training mode without an update: (stats, parameter gradients, input gradient).")
      .def(
          "forward",
          [](Network& net, const CArray<float>& x, std::uint64_t seed, int n_threads) {
            const std::int64_t n = rows_of(net, x);
            if (any_non_finite(x.data(), x.size())) throw std::invalid_argument("x contains NaN or infinity");
            std::vector<py::ssize_t> shape{py::ssize_t(n)};
            for (auto d : shape_tuple(net.output_shape())) shape.push_back(d.cast<py::ssize_t>());
            py::array_t<float> out(shape);
            {
              py::gil_scoped_release release;
              const float* y = net.forward(x.data(), n, seed, n_threads);
              std::copy(y, y + n * net.output_shape().size(), out.mutable_data());
            }
            return out;
          },
          py::arg("x"), py::arg("seed"), py::arg("n_threads"),
          "Forward pass in training mode, keeping what backward needs: the output.")
      .def(
          "backward",
          [](Network& net, const CArray<float>& dy, bool input_gradient, int n_threads) -> py::object {
            if (net.forward_rows() == 0)
              throw std::invalid_argument(
                  "backward needs a forward pass in training mode first (each is taken back once)");
            const std::int64_t n = dy.ndim() ? dy.shape(0) : 0;
            if (n != net.forward_rows() || dy.size() != n * net.output_shape().size())
              throw std::invalid_argument("the output gradient must have the shape of the last forward's output");
            if (any_non_finite(dy.data(), dy.size())) throw std::invalid_argument("dy contains NaN or infinity");
            std::vector<py::ssize_t> shape{py::ssize_t(n)};
            for (auto d : shape_tuple(net.input_shape())) shape.push_back(d.cast<py::ssize_t>());
            py::array_t<float> dx(shape);
            float* d = input_gradient ? dx.mutable_data() : nullptr;
            {
              py::gil_scoped_release release;
              net.backward(dy.data(), d, n_threads);
            }
            return input_gradient ? py::object(dx) : py::object(py::none());
          },
          py::arg("dy"), py::arg("input_gradient"), py::arg("n_threads"),
          "Backward pass of the last forward: parameter gradients added up, the input gradient (or None).")
      .def("get_accumulated_grads",
           [](Network& n) { return to_numpy(n.accumulated_grads(), {py::ssize_t(n.accumulated_grads().size())}); })
      .def("set_accumulated_grads",
           [](Network& n, const CArray<float>& g) { copy_into(n.accumulated_grads(), g, "the gradient vector"); })
      .def("zero_accumulated_grads", [](Network& n) { n.zero_accumulated_grads(); })
      .def_property_readonly(
          "param_count", [](const Network& n) { return std::int64_t(n.params().size()); },
          "The number of trainable parameter values (the length of the parameter vector).")
      .def(
          "apply_gradients",
          [](Network& net, const OptimizerConfig& opt, int n_threads) {
            py::gil_scoped_release release;
            net.apply_gradients(opt, n_threads);
          },
          py::arg("optimizer"), py::arg("n_threads"), "One optimizer step from the accumulated gradients.")
      .def("set_trainable", &Network::set_trainable, py::arg("layer"), py::arg("trainable"))
      .def("trainable", &Network::trainable, py::arg("layer"));
  m.def(
      "nn_vae_gradients",
      [](Network& encoder, Network& decoder, const CArray<float>& enc_in, const CArray<float>& x,
         const std::optional<CArray<float>>& cond, const CArray<double>& eps, double beta, bool bernoulli,
         std::uint64_t encoder_seed, std::uint64_t decoder_seed, int n_threads) {
        const std::int64_t n = rows_of(encoder, enc_in);
        if (x.ndim() != 2 || x.shape(0) != n || eps.ndim() != 2 || eps.shape(0) != n)
          throw std::invalid_argument("the data and the noise must have one row per sample");
        if (cond && (cond->ndim() != 2 || cond->shape(0) != n))
          throw std::invalid_argument("the labels' one-hot must have one row per sample");
        if (x.shape(1) != decoder.output_shape().size())
          throw std::invalid_argument("the decoder's output does not have the data's size");
        const std::int64_t n_cond = cond ? cond->shape(1) : 0;
        VaeTerms t;
        {
          py::gil_scoped_release release;
          t = vae_gradients(encoder, decoder, enc_in.data(), x.data(), cond ? cond->data() : nullptr, n_cond,
                            eps.data(), n, eps.shape(1), beta, bernoulli, encoder_seed, decoder_seed, n_threads);
        }
        return py::make_tuple(t.loss, t.reconstruction, t.kl);
      },
      py::arg("encoder"), py::arg("decoder"), py::arg("enc_in"), py::arg("x"), py::arg("cond"), py::arg("eps"),
      py::arg("beta"), py::arg("bernoulli"), py::arg("encoder_seed"), py::arg("decoder_seed"), py::arg("n_threads"),
      "One VAE batch: both parts' gradients of its mean loss in place of their accumulated ones; "
      "(loss, reconstruction, kl), means per sample.");
  m.def(
      "nn_vae_train_batches",
      [](Network& encoder, Network& decoder, const CArray<float>& x, const CArray<std::int64_t>& order,
         std::int64_t batch_size, const CArray<double>& eps, const CArray<std::uint64_t>& encoder_seeds,
         const CArray<std::uint64_t>& decoder_seeds, double beta, bool bernoulli, const OptimizerConfig& opt,
         int n_threads) {
        const std::int64_t rows = rows_of(encoder, x), n = order.size();
        if (batch_size <= 0) throw std::invalid_argument("batch_size must be positive");
        const std::int64_t batches = (n + batch_size - 1) / batch_size;
        if (eps.ndim() != 2 || eps.shape(0) != n || eps.shape(1) <= 0)
          throw std::invalid_argument("the noise must have one row per index of the order");
        if (encoder_seeds.size() != batches || decoder_seeds.size() != batches)
          throw std::invalid_argument("each part needs one seed a batch");
        std::vector<VaeTerms> terms(static_cast<std::size_t>(batches));
        std::int64_t done = 0;
        {
          py::gil_scoped_release release;
          done = vae_train_batches(encoder, decoder, x.data(), rows, order.data(), n, batch_size, eps.data(),
                                   encoder_seeds.data(), decoder_seeds.data(), eps.shape(1), beta, bernoulli, opt,
                                   terms.data(), n_threads);
        }
        py::array_t<double> out({py::ssize_t(done), py::ssize_t(3)});
        double* o = out.mutable_data();
        for (std::int64_t b = 0; b < done; ++b) {
          const VaeTerms& t = terms[std::size_t(b)];
          o[3 * b] = t.loss, o[3 * b + 1] = t.reconstruction, o[3 * b + 2] = t.kl;
        }
        return out;
      },
      py::arg("encoder"), py::arg("decoder"), py::arg("x"), py::arg("order"), py::arg("batch_size"), py::arg("eps"),
      py::arg("encoder_seeds"), py::arg("decoder_seeds"), py::arg("beta"), py::arg("bernoulli"), py::arg("optimizer"),
      py::arg("n_threads"),
      "An unconditional VAE trained on the batches of rows of x in `order`: per batch, its gradients and an "
      "optimizer step of each part; (loss, reconstruction, kl) of each batch run, up to the first that is not finite.");
}

}  // namespace scalegen::bindings
