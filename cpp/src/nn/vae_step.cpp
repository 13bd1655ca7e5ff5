// A VAE batch's gradients in one call (see vae_gradients in network.hpp): the encoder's and
// decoder's passes with the reparameterisation and the loss between them, ~30 NumPy and
// binding calls a batch in Python; and whole runs of batches with their optimizer steps.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "scalegen/common/parallel.hpp"
#include "scalegen/nn/network.hpp"

namespace scalegen::nn {

VaeTerms vae_gradients(Network& encoder, Network& decoder, const float* enc_in, const float* x, const float* cond,
                       std::int64_t n_cond, const double* eps, std::int64_t n, std::int64_t latent, double beta,
                       bool bernoulli, std::uint64_t encoder_seed, std::uint64_t decoder_seed, int n_threads) {
  const std::int64_t L = latent, z_width = L + n_cond, d = decoder.output_shape().size();
  if (n <= 0 || L <= 0 || n_cond < 0 || (n_cond > 0 && cond == nullptr))
    throw std::invalid_argument("a VAE step needs samples, a latent size and the labels it is conditioned on");
  if (encoder.output_shape().size() != 2 * L)
    throw std::invalid_argument("the encoder must end in 2 x latent_dim values (means and log-variances)");
  if (decoder.input_shape().size() != z_width)
    throw std::invalid_argument("the decoder must take latent_dim values (and the labels' one-hot)");
  encoder.zero_accumulated_grads();
  decoder.zero_accumulated_grads();

  // both networks read their inputs in place (enc_in and z outlive the passes) and take
  // their output gradients where they keep them
  // h (n x 2L: means, then log-variances) stays the encoder's output until its next pass
  const float* h = encoder.forward_in_place(enc_in, n, encoder_seed, n_threads);
  const auto mean = [&](std::int64_t i, std::int64_t j) { return double(h[i * 2 * L + j]); };
  const auto log_var = [&](std::int64_t i, std::int64_t j) { return double(h[i * 2 * L + L + j]); };
  std::vector<float> z(std::size_t(n * z_width));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < L; ++j)
      z[std::size_t(i * z_width + j)] = float(mean(i, j) + std::exp(0.5 * log_var(i, j)) * eps[i * L + j]);
    for (std::int64_t j = 0; j < n_cond; ++j) z[std::size_t(i * z_width + L + j)] = cond[i * n_cond + j];
  }

  const float* out = decoder.forward_in_place(z.data(), n, decoder_seed, n_threads);
  std::vector<double> recon(static_cast<std::size_t>(n));
  reconstruction_terms(out, x, n, d, bernoulli, recon.data(), decoder.output_gradient(), float(n), n_threads);
  std::vector<float> dz(std::size_t(n * z_width));
  decoder.backward_from_output_gradient(dz.data(), n_threads);

  // through z = mean + sd eps to the encoder's outputs, plus the KL term's own gradient
  float* dh = encoder.output_gradient();
  VaeTerms t;
  const double gaussian_constant = bernoulli ? 0.0 : 0.5 * std::log(2.0 * 3.14159265358979323846) * double(d);
  for (std::int64_t i = 0; i < n; ++i) {
    double kl = 0.0;
    for (std::int64_t j = 0; j < L; ++j) {
      const double g = dz[std::size_t(i * z_width + j)], m = mean(i, j), lv = log_var(i, j);
      const double sd = std::exp(0.5 * lv), var = std::exp(lv), e = eps[i * L + j];
      dh[i * 2 * L + j] = float(g + beta * m / double(n));
      dh[i * 2 * L + L + j] = float(g * e * 0.5 * sd + beta * 0.5 * (var - 1.0) / double(n));
      kl += var + m * m - 1.0 - lv;
    }
    const double r = recon[std::size_t(i)] + gaussian_constant;
    t.reconstruction += r;
    t.kl += 0.5 * kl;
    t.loss += r + beta * 0.5 * kl;
  }
  encoder.backward_from_output_gradient(nullptr, n_threads);
  t.loss /= double(n);
  t.reconstruction /= double(n);
  t.kl /= double(n);
  return t;
}

std::int64_t vae_train_batches(Network& encoder, Network& decoder, const float* x, std::int64_t rows,
                               const std::int64_t* order, std::int64_t n, std::int64_t batch_size, const double* eps,
                               const std::uint64_t* encoder_seeds, const std::uint64_t* decoder_seeds,
                               std::int64_t latent, double beta, bool bernoulli, const OptimizerConfig& opt,
                               VaeTerms* terms, int n_threads) {
  const std::int64_t d = encoder.input_shape().size();
  if (decoder.output_shape().size() != d)
    throw std::invalid_argument("the decoder's output must have the size of the encoder's input");
  if (batch_size <= 0) throw std::invalid_argument("batch_size must be positive");
  for (std::int64_t i = 0; i < n; ++i)
    if (order[i] < 0 || order[i] >= rows) throw std::invalid_argument("a row index is outside the data");
  std::vector<float> batch(static_cast<std::size_t>(std::min(batch_size, n) * d));
  std::int64_t b = 0;
  for (std::int64_t s0 = 0; s0 < n; s0 += batch_size) {
    const std::int64_t m = std::min(batch_size, n - s0);
    parallel_for_flushed(n_threads, (m + 7) / 8, [&](std::int64_t t) {
      for (std::int64_t i = t * 8; i < std::min(m, t * 8 + 8); ++i)
        std::copy_n(x + order[s0 + i] * d, d, batch.data() + i * d);
    });
    const VaeTerms t = vae_gradients(encoder, decoder, batch.data(), batch.data(), nullptr, 0, eps + s0 * latent, m,
                                     latent, beta, bernoulli, encoder_seeds[b], decoder_seeds[b], n_threads);
    terms[b++] = t;
    if (!std::isfinite(t.loss) || !std::isfinite(t.reconstruction) || !std::isfinite(t.kl)) break;
    encoder.apply_gradients(opt, n_threads);
    decoder.apply_gradients(opt, n_threads);
  }
  return b;
}

}  // namespace scalegen::nn
