#pragma once
// Internal to the mixture kernels: per-tile log-densities and per-chunk statistics.
// Rows are the vector lanes everywhere: tiles of X are transposed (d x t), so no loop
// needs a horizontal reduction and float32 data runs 16 lanes wide on AVX-512.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "lanes.hpp"
#include "scalegen/mixture/gaussian_mixture.hpp"

namespace scalegen::mixture::detail {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// Column-major t x k table: one contiguous column of rows per component.
using ColArr = Eigen::ArrayXXd;

constexpr double kLog2Pi = 1.8378770664093454835606594728112;

/// A row whose log-densities are all -inf, and the component nearest to it.
struct Lost {
  std::int64_t row;
  int nearest;
};

/// Precomputed, type-converted parameters of one E-step and its tile kernels.
template <class T>
class TileKernel {
 public:
  using V = typename Simd<T>::V;
  static constexpr int W = Simd<T>::W;
  static constexpr int J = 8;  // columns of the precision factor per register block

  explicit TileKernel(const MixtureParams& p)
      : type_(p.type), k_(p.n_components), d_(p.n_features), means_(p.means), chol_(p.prec_chol) {
    p.validate();
    const int k = k_, d = d_;
    const int n_chol = type_ == CovarianceType::Full ? k : type_ == CovarianceType::Tied ? 1 : k;
    const std::size_t per = chol_.size() / std::size_t(n_chol);
    chol_max_.assign(std::size_t(n_chol), 0.0);
    for (int m = 0; m < n_chol; ++m)
      for (std::size_t i = 0; i < per; ++i) chol_max_[m] = std::max(chol_max_[m], std::fabs(chol_[m * per + i]));
    dp_ = (d + J - 1) / J * J;
    cst_.resize(k);
    for (int c = 0; c < k; ++c) cst_[c] = p.log_weight(c) - 0.5 * d * kLog2Pi;
    // All arithmetic on rows happens around one center, in T, so float32 keeps its
    // precision for data far from the origin.
    center_.assign(d, 0.0);
    for (int c = 0; c < k; ++c)
      for (int j = 0; j < d; ++j) center_[j] += p.means[std::size_t(c) * d + j] / k;
    switch (type_) {
      case CovarianceType::Full:
      case CovarianceType::Tied: {
        const int n_mat = type_ == CovarianceType::Full ? k : 1;
        // U padded to d x dp with zero columns; bias_k = (m_k - center) U_k, padded.
        u_.assign(std::size_t(n_mat) * d * dp_, T(0));
        bias_.assign(std::size_t(k) * dp_, T(0));
        ranges_.resize(std::size_t(n_mat) * (dp_ / J));
        for (int m = 0; m < n_mat; ++m) {
          const double* U = p.prec_chol.data() + std::size_t(m) * d * d;
          double logdet = 0;
          for (int j = 0; j < d; ++j) logdet += std::log(std::fabs(U[j * d + j]));
          for (int a = 0; a < d; ++a)
            for (int j = 0; j < d; ++j) u_[(std::size_t(m) * d + a) * dp_ + j] = T(U[a * d + j]);
          // Rows a with a non-zero in a block of J columns: triangular factors skip the rest.
          for (int jb = 0; jb < dp_ / J; ++jb) {
            int lo = d, hi = 0;
            for (int a = 0; a < d; ++a)
              for (int j = jb * J; j < std::min(d, jb * J + J); ++j)
                if (U[a * d + j] != 0) lo = std::min(lo, a), hi = std::max(hi, a + 1);
            // Upper triangular within the block's diagonal rows (as Cholesky factors are):
            // those rows then skip their zero columns too.
            bool tri = lo <= jb * J && hi > jb * J;
            for (int a = jb * J; tri && a < hi; ++a)
              for (int j = jb * J; j < a; ++j) tri &= U[a * d + j] == 0;
            ranges_[std::size_t(m) * (dp_ / J) + jb] = {lo, std::max(lo, hi), tri};
          }
          const int c_end = type_ == CovarianceType::Full ? m + 1 : k;
          for (int c = type_ == CovarianceType::Full ? m : 0; c < c_end; ++c) {
            cst_[c] += logdet;
            for (int j = 0; j < d; ++j) {
              double b = 0;
              for (int a = 0; a < d; ++a) b += (p.means[std::size_t(c) * d + a] - center_[a]) * U[a * d + j];
              bias_[std::size_t(c) * dp_ + j] = T(b);
            }
          }
        }
        break;
      }
      case CovarianceType::Diag:
      case CovarianceType::Spherical: {
        prec_.resize(std::size_t(k) * d);
        mp_.resize(std::size_t(k) * d);
        for (int c = 0; c < k; ++c)
          for (int j = 0; j < d; ++j) {
            const double pr = type_ == CovarianceType::Diag ? p.prec_chol[std::size_t(c) * d + j] : p.prec_chol[c];
            prec_[std::size_t(c) * d + j] = T(pr);
            mp_[std::size_t(c) * d + j] = T((p.means[std::size_t(c) * d + j] - center_[j]) * pr);
            cst_[c] += std::log(pr);
          }
        break;
      }
    }
  }

  int k() const { return k_; }
  int d() const { return d_; }
  const std::vector<double>& center() const { return center_; }

  /// Rows per tile: the transposed tile and its log-densities stay in L2.
  std::int64_t tile_rows() const {
    const std::int64_t per_row =
        std::int64_t(dp_) * (sizeof(T) + (type_ == CovarianceType::Tied ? sizeof(T) : 0)) + std::int64_t(k_) * 8;
    return std::clamp<std::int64_t>((128 << 10) / per_row / W * W, W, 1024);
  }

  /// Features of the rows in XT: d rounded up to 4 (zero beyond d), as the statistics read them.
  int lane_features() const { return (d_ + 3) / 4 * 4; }

  /// Log-densities plus log-weights of t rows of X (row-major) into L (t x k), never NaN:
  /// -inf where a density underflows. Rows whose every entry is -inf (far from every
  /// component) are listed in `lost` with the component nearest in Mahalanobis distance,
  /// the limit of the posterior. XT and Y are scratch buffers reused across calls; XT is
  /// left holding the rows in lanes, centered (rows_to_lanes), with the layout returned.
  Lanes log_prob(const T* X, std::int64_t t, std::vector<V>& XT, std::vector<V>& Y, ColArr& L,
                 std::vector<Lost>& lost) const {
    lost.clear();
    const int k = k_;
    // Register blocks of rows, a multiple of 4 (diag_block takes four at a time); the
    // stride is odd so that features never sit a multiple of 4 KiB apart (L1 set conflicts).
    const std::int64_t nb = (padded_rows<T>(t) / W + 3) / 4 * 4, stride = nb + 1;
    XT.resize(std::size_t(lane_features()) * stride);
    rows_to_lanes<T, T>(X, t, d_, center_.data(), lane_features(), nb, stride, XT.data());
    L.resize(t, k);
    std::vector<T> q(std::size_t(nb) * W);
    bool finite = true;
    for (int c = 0; c < k; ++c) {
      switch (type_) {
        case CovarianceType::Full: full_block(XT.data(), nb, stride, c, q.data()); break;
        case CovarianceType::Tied:
          if (c == 0) tied_project(XT.data(), nb, stride, Y);
          tied_block(Y.data(), nb, c, q.data());
          break;
        default: diag_block(XT.data(), nb, stride, c, q.data());
      }
      finite &= log_density(q.data(), t, cst_[c], L.col(c).data());
    }
    if (finite) return {nb, stride};
    // Some product overflowed in T (huge values, or float32 past 3e38): those rows again,
    // exactly, in double and rescaled.
    for (std::int64_t i = 0; i < t; ++i) {
      bool row_ok = true;
      for (int c = 0; c < k; ++c) row_ok &= L(i, c) > -HUGE_VAL;
      if (!row_ok) robust_row(X + i * d_, i, L, lost);
    }
    return {nb, stride};
  }

 private:
  struct Range {
    int lo, hi;  // rows of the factor with a non-zero in the block of columns
    bool tri;    // rows from the block's first column on are upper triangular
  };

  // out = cst - q / 2 in double, a register of doubles at a time; false if any is NaN or -inf.
  static bool log_density(const T* q, std::int64_t t, double cst, double* out) {
    constexpr int H = Simd<double>::W;
    typedef T VT __attribute__((vector_size(H * sizeof(T))));  // float32: half a register
    typedef std::int64_t VI __attribute__((vector_size(kSimdBytes)));
    VI ok = VI{} - 1;
    std::int64_t i = 0;
    for (; i + H <= t; i += H) {
      VT qv;
      std::memcpy(&qv, q + i, sizeof qv);
      const Simd<double>::V o = cst - 0.5 * __builtin_convertvector(qv, Simd<double>::V);
      std::memcpy(out + i, &o, sizeof o);
      ok &= o > -HUGE_VAL;  // false for NaN and -inf
    }
    bool all = true;
    for (int l = 0; l < H; ++l) all &= ok[l] != 0;
    for (; i < t; ++i) {
      out[i] = cst - 0.5 * double(q[i]);
      all &= out[i] > -HUGE_VAL;
    }
    return all;
  }

  // A power of two at least v / 2, and at least 1: dividing by it is exact.
  static double scale_of(double v) {
    if (!(v > 1)) return 1.0;
    int e = 0;
    std::frexp(v, &e);
    return std::ldexp(1.0, std::min(e, 1023));
  }

  // Row i of L from x in double, with no intermediate overflow: with s_c a power of two
  // near max(|x|, |m_c|) and g_c one near the largest entry of factor c, z = (x - m_c) / s_c
  // and y = z (U_c / g_c) are bounded (|z| <= 4) and exact up to rounding, and
  // q_c = (s_c g_c)^2 |y|^2 is taken through its logarithm.
  void robust_row(const T* x, std::int64_t i, ColArr& L, std::vector<Lost>& lost) const {
    const int k = k_, d = d_;
    double x_max = 0;
    for (int a = 0; a < d; ++a) x_max = std::max(x_max, std::fabs(double(x[a])));
    std::vector<double> z(static_cast<std::size_t>(d));
    int nearest = 0;
    double nearest_log_q = HUGE_VAL;
    bool any_finite = false;
    for (int c = 0; c < k; ++c) {
      const double* m = means_.data() + std::size_t(c) * d;
      double m_max = 0;
      for (int a = 0; a < d; ++a) m_max = std::max(m_max, std::fabs(m[a]));
      const double s = scale_of(std::max(x_max, m_max));
      for (int a = 0; a < d; ++a) z[a] = double(x[a]) / s - m[a] / s;
      const int f = type_ == CovarianceType::Tied ? 0 : c;
      const double g = scale_of(chol_max_[f]);
      double r = 0;
      switch (type_) {
        case CovarianceType::Full:
        case CovarianceType::Tied: {
          const double* U = chol_.data() + std::size_t(f) * d * d;
          for (int j = 0; j < d; ++j) {
            double y = 0;
            for (int a = 0; a < d; ++a) y += z[a] * (U[a * d + j] / g);
            r += y * y;
          }
          break;
        }
        case CovarianceType::Diag:
          for (int a = 0; a < d; ++a) {
            const double y = z[a] * (chol_[std::size_t(c) * d + a] / g);
            r += y * y;
          }
          break;
        case CovarianceType::Spherical:
          for (int a = 0; a < d; ++a) r += z[a] * z[a] * ((chol_[c] / g) * (chol_[c] / g));
          break;
      }
      const double log_q = 2 * (std::log(s) + std::log(g)) + std::log(r);  // -inf when r == 0
      const double v = cst_[c] - 0.5 * std::exp(log_q);
      L(i, c) = v;
      any_finite |= v > -HUGE_VAL;
      if (log_q < nearest_log_q) nearest_log_q = log_q, nearest = c;
    }
    if (!any_finite) lost.push_back({i, nearest});
  }

  // q = ||XT^T U_c - bias_c||^2 for each row, J columns of U at a time in registers, for
  // kPass register blocks of rows at once so that each broadcast of U feeds kPass FMAs (two
  // on AVX-512: 16 accumulators of its 32 registers; one on AVX2's 16). nb is a multiple of 4.
  void full_block(const V* XT, std::int64_t nb, std::int64_t stride, int c, T* q_out) const {
    constexpr int kPass = kSimdBytes == 64 ? 2 : 1;
    const int d = d_, nj = dp_ / J;
    const T* U = u_.data() + std::size_t(c) * d * dp_;
    const T* bias = bias_.data() + std::size_t(c) * dp_;
    for (std::int64_t b = 0; b < nb; b += kPass) {
      V q[kPass] = {};
      for (int jb = 0; jb < nj; ++jb) {
        const Range r = ranges_[std::size_t(c) * nj + jb];
        const T* bj = bias + jb * J;
        V acc[kPass][J];
#pragma GCC unroll 2
        for (int p = 0; p < kPass; ++p)
#pragma GCC unroll 8
          for (int j = 0; j < J; ++j) acc[p][j] = V{} - bj[j];
        const int a0 = jb * J, full_end = r.tri ? a0 : r.hi;
        for (int a = r.lo; a < full_end; ++a) {
          const V* x = XT + std::size_t(a) * stride + b;
          const T* u = U + std::size_t(a) * dp_ + a0;
#pragma GCC unroll 8
          for (int j = 0; j < J; ++j)
#pragma GCC unroll 2
            for (int p = 0; p < kPass; ++p) acc[p][j] += x[p] * u[j];
        }
        if (r.tri) {  // row a0 + i meets columns i.. of the block only
#pragma GCC unroll 8
          for (int i = 0; i < J; ++i) {
            if (a0 + i >= r.hi) break;
            const V* x = XT + std::size_t(a0 + i) * stride + b;
            const T* u = U + std::size_t(a0 + i) * dp_ + a0;
#pragma GCC unroll 8
            for (int j = i; j < J; ++j)
#pragma GCC unroll 2
              for (int p = 0; p < kPass; ++p) acc[p][j] += x[p] * u[j];
          }
        }
#pragma GCC unroll 2
        for (int p = 0; p < kPass; ++p) {
          q[p] += acc[p][0] * acc[p][0] + acc[p][1] * acc[p][1] + acc[p][2] * acc[p][2] + acc[p][3] * acc[p][3];
          q[p] += acc[p][4] * acc[p][4] + acc[p][5] * acc[p][5] + acc[p][6] * acc[p][6] + acc[p][7] * acc[p][7];
        }
      }
      std::copy_n(reinterpret_cast<const T*>(q), kPass * W, q_out + b * W);
    }
  }

  // Y = XT^T U (the one tied factor), stored like XT with dp features.
  void tied_project(const V* XT, std::int64_t nb, std::int64_t stride, std::vector<V>& Y) const {
    Y.assign(std::size_t(dp_) * nb, V{});
    const int nj = dp_ / J;
    for (std::int64_t b = 0; b < nb; ++b)
      for (int jb = 0; jb < nj; ++jb) {
        const Range r = ranges_[jb];
        V acc[J] = {};
        for (int a = r.lo; a < r.hi; ++a) {
          const V x = XT[std::size_t(a) * stride + b];
          const T* u = u_.data() + std::size_t(a) * dp_ + jb * J;
          for (int jj = 0; jj < J; ++jj) acc[jj] += x * u[jj];
        }
        for (int jj = 0; jj < J; ++jj) Y[std::size_t(jb * J + jj) * nb + b] = acc[jj];
      }
  }

  void tied_block(const V* Y, std::int64_t nb, int c, T* q_out) const {
    const T* bias = bias_.data() + std::size_t(c) * dp_;
    for (std::int64_t b = 0; b < nb; ++b) {
      V q{};
      for (int j = 0; j < d_; ++j) {
        const V z = Y[std::size_t(j) * nb + b] - bias[j];
        q += z * z;
      }
      std::copy_n(reinterpret_cast<const T*>(&q), W, q_out + b * W);
    }
  }

  void diag_block(const V* XT, std::int64_t nb, std::int64_t stride, int c, T* q_out) const {
    const T* mp = mp_.data() + std::size_t(c) * d_;
    const T* pr = prec_.data() + std::size_t(c) * d_;
    // Four register blocks of rows at once: independent chains hide the FMA latency
    // (XT is padded to a multiple of 4 blocks by the caller). z = x p - m p: two FMAs.
    for (std::int64_t b = 0; b < nb; b += 4) {
      V q0{}, q1{}, q2{}, q3{};
      for (int j = 0; j < d_; ++j) {
        const V* x = XT + std::size_t(j) * stride + b;
        const V z0 = x[0] * pr[j] - mp[j], z1 = x[1] * pr[j] - mp[j];
        const V z2 = x[2] * pr[j] - mp[j], z3 = x[3] * pr[j] - mp[j];
        q0 += z0 * z0;
        q1 += z1 * z1;
        q2 += z2 * z2;
        q3 += z3 * z3;
      }
      const V qs[4] = {q0, q1, q2, q3};
      std::copy_n(reinterpret_cast<const T*>(qs), 4 * W, q_out + b * W);
    }
  }

  CovarianceType type_;
  int k_, d_, dp_ = 0;
  std::vector<double> means_, chol_, chol_max_;  // double copies for robust_row
  std::vector<double> cst_, center_;
  std::vector<T> u_, bias_, prec_, mp_;
  std::vector<Range> ranges_;
};

/// x = exp(x - m), element by element, for x <= m (or NaN). With u: u += exp(x - m) (x - m)
/// where the exponential is positive (its limit, 0, where it is not).
inline void exp_shifted(double* x, const double* m, std::int64_t t, double* u = nullptr) {
  using V = Simd<double>::V;
  constexpr int W = Simd<double>::W;
  const auto step = [&](V& xv, const V& mv, V* uv) {
    const V z = xv - mv;
    xv = exp_lanes(z);
    if (uv != nullptr) *uv += xv > 0 ? xv * z : V{};
  };
  std::int64_t i = 0;
  for (; i + W <= t; i += W) {
    V xv, mv, uv;
    std::memcpy(&xv, x + i, sizeof xv);
    std::memcpy(&mv, m + i, sizeof mv);
    if (u != nullptr) std::memcpy(&uv, u + i, sizeof uv);
    step(xv, mv, u != nullptr ? &uv : nullptr);
    std::memcpy(x + i, &xv, sizeof xv);
    if (u != nullptr) std::memcpy(u + i, &uv, sizeof uv);
  }
  if (i == t) return;
  V xv{}, mv{}, uv{};  // the last rows through the same function, so that no row's value depends on its place
  for (std::int64_t l = i; l < t; ++l) xv[l - i] = x[l], mv[l - i] = m[l], uv[l - i] = u != nullptr ? u[l] : 0.0;
  step(xv, mv, u != nullptr ? &uv : nullptr);
  for (std::int64_t l = i; l < t; ++l) {
    x[l] = xv[l - i];
    if (u != nullptr) u[l] = uv[l - i];
  }
}

/// Row-wise log-sum-exp of L (t x k) into lse; with `normalize`, L becomes the
/// responsibilities exp(L - lse). Column-major, so every step vectorises over rows.
/// Lost rows (all -inf) get lse = -inf and responsibility 1 for their nearest component.
/// With `entropy` (and normalize), sum_k r_k log r_k of each row goes there: with
/// e_k = exp(L_k - max) and s = sum_k e_k, it is sum_k e_k (L_k - max) / s - log s, summed
/// in the same pass as s.
inline void log_sum_exp_rows(ColArr& L, Eigen::ArrayXd& lse, bool normalize, const std::vector<Lost>& lost,
                             Eigen::ArrayXd* entropy = nullptr) {
  // Column by column: a column of a tile stays in L1 between the steps that touch it
  // (whole-array steps would each stream the tile from L2).
  const Eigen::Index k = L.cols();
  Eigen::ArrayXd mx = L.col(0);
  for (Eigen::Index c = 1; c < k; ++c) mx = mx.max(L.col(c));
  if (entropy != nullptr) entropy->setZero(L.rows());
  Eigen::ArrayXd s = Eigen::ArrayXd::Zero(L.rows());
  for (Eigen::Index c = 0; c < k; ++c) {
    exp_shifted(L.col(c).data(), mx.data(), L.rows(), entropy != nullptr ? entropy->data() : nullptr);
    s += L.col(c);
  }
  lse = mx + s.log();
  if (normalize) {
    const Eigen::ArrayXd inv = s.inverse();
    if (entropy != nullptr) *entropy = *entropy * inv - s.log();
    for (Eigen::Index c = 0; c < k; ++c) {
      // Responsibilities below 1e-200 change no statistic, but as subnormal operands
      // (around exp(-708)) they slow every multiply that touches them ~100x.
      L.col(c) = (L.col(c) * inv < 1e-200).select(0.0, L.col(c) * inv);
    }
  }
  for (const Lost& r : lost) {
    lse[r.row] = -HUGE_VAL;
    if (normalize) {
      L.row(r.row).setZero();
      L(r.row, r.nearest) = 1.0;
      if (entropy != nullptr) (*entropy)[r.row] = 0.0;
    }
  }
}

}  // namespace scalegen::mixture::detail
