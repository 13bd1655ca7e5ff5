#pragma once
// Internal to the mixture kernels: weighted first and second moments of rows held in lanes.

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <vector>

#include "lanes.hpp"
#include "scalegen/mixture/gaussian_mixture.hpp"
#include "tile_kernel.hpp"

namespace scalegen::mixture::detail {

/// Sums of r (x - shift_c) and of r (x - shift_c)(x - shift_c)^T over tiles of rows in
/// lanes (lower triangles; diagonals for diag and spherical; for tied, one matrix around
/// the mean of the shifts weighted by the rows' total responsibility). The sums stay whole
/// registers across tiles: lanes are summed once, by flush().
class MomentSums {
 public:
  using V = Simd<double>::V;
  static constexpr int W = Simd<double>::W;

  /// Starts from zero, around st's shifts, for rows that arrive centered at `center`.
  void reset(const SufficientStats& st, const std::vector<double>& center) {
    type_ = st.type;
    k_ = st.n_components;
    d_ = st.n_features;
    d4_ = (d_ + 3) / 4 * 4;
    const int nab = d4_ / 4;
    n_blocks_ = type_ == CovarianceType::Full || type_ == CovarianceType::Tied ? nab * (nab + 1) / 2 : 0;
    // m_c = shift_c - center, zero past d.
    m_.assign(std::size_t(k_) * d4_, 0.0);
    for (int c = 0; c < k_; ++c)
      for (int a = 0; a < d_; ++a) m_[std::size_t(c) * d4_ + a] = st.shift[std::size_t(c) * d_ + a] - center[a];
    if (type_ == CovarianceType::Tied) {
      const std::vector<double> tc = st.tied_center();
      tied_m_.assign(d4_, 0.0);
      for (int a = 0; a < d_; ++a) tied_m_[a] = tc[a] - center[a];
    }
    nk_.assign(std::size_t(k_), V{});
    const std::size_t per_set = type_ == CovarianceType::Full   ? std::size_t(n_blocks_) * 16 + d4_
                                : type_ == CovarianceType::Tied ? std::size_t(d4_)
                                                                : std::size_t(d_) * 4;
    acc_.assign(std::size_t(k_) * per_set, V{});
    tied_acc_.assign(type_ == CovarianceType::Tied ? std::size_t(n_blocks_) * 16 + d4_ : 0, V{});
  }

  /// Adds a tile: XT in rows_to_lanes layout (d rounded up to 4 features, nb registers of
  /// rows, zero past the last row) with responsibilities R (t x k, already weighted);
  /// row_weight (t, or null for ones) is sum_k R(i, k), which the tied second moment uses.
  void add(const V* XT, std::int64_t stride, std::int64_t nb, const Eigen::Ref<const ColArr>& R,
           const double* row_weight) {
    const std::int64_t t = R.rows();
    RV_.assign(std::size_t(k_) * nb, V{});
    for (int c = 0; c < k_; ++c) {
      V* rv = RV_.data() + std::size_t(c) * nb;
      std::copy_n(R.col(c).data(), t, reinterpret_cast<double*>(rv));
      V s{};
      for (std::int64_t b = 0; b < nb; ++b) s += rv[b];
      nk_[c] += s;
    }
    switch (type_) {
      case CovarianceType::Full: full_moments(XT, stride, nb, t); break;
      case CovarianceType::Tied: {
        weighted_moments(XT, stride, nb, RV_.data(), m_.data(), k_, false, acc_.data());
        RW_.assign(std::size_t(nb), V{});
        double* w = reinterpret_cast<double*>(RW_.data());
        if (row_weight != nullptr) {
          std::copy_n(row_weight, t, w);
        } else {
          std::fill(w, w + t, 1.0);
        }
        weighted_moments(XT, stride, nb, RW_.data(), tied_m_.data(), 1, true, tied_acc_.data());
        break;
      }
      default: diagonal_moments(XT, stride, nb); break;
    }
  }

  /// Adds the lane sums to st (which must be the statistics given to reset) and starts again
  /// from zero.
  void flush(SufficientStats& st) {
    for (int c = 0; c < k_; ++c) st.nk[c] += lane_sum(nk_[c]);
    const int d = d_;
    for (int c = 0; c < k_; ++c) {
      double* s1 = st.s1.data() + std::size_t(c) * d;
      if (type_ == CovarianceType::Diag || type_ == CovarianceType::Spherical) {
        double* s2 = st.s2.data() + std::size_t(c) * d;
        const V* acc = acc_.data() + std::size_t(c) * d * 4;
        for (int a = 0; a < d; ++a) {
          s1[a] += lane_sum(acc[a * 4] + acc[a * 4 + 1]);
          s2[a] += lane_sum(acc[a * 4 + 2] + acc[a * 4 + 3]);
        }
        continue;
      }
      const std::size_t per_set = type_ == CovarianceType::Full ? std::size_t(n_blocks_) * 16 + d4_ : d4_;
      const V* blocks = acc_.data() + std::size_t(c) * per_set;
      const V* sums = blocks + (type_ == CovarianceType::Full ? std::size_t(n_blocks_) * 16 : 0);
      for (int a = 0; a < d; ++a) s1[a] += lane_sum(sums[a]);
      if (type_ == CovarianceType::Full) add_lower(blocks, st.s2.data() + std::size_t(c) * d * d);
    }
    if (type_ == CovarianceType::Tied) add_lower(tied_acc_.data(), st.s2.data());
    std::fill(nk_.begin(), nk_.end(), V{});
    std::fill(acc_.begin(), acc_.end(), V{});
    std::fill(tied_acc_.begin(), tied_acc_.end(), V{});
  }

 private:
  // The lane sums of 4 x 4 blocks into the lower triangle of S (d x d).
  void add_lower(const V* blocks, double* S) const {
    int block = 0;
    for (int a0 = 0; a0 < d4_; a0 += 4)
      for (int b0 = 0; b0 <= a0; b0 += 4, ++block)
        for (int p = 0; p < 4; ++p)
          for (int q = 0; q < 4; ++q) {
            const int ia = a0 + p, ib = b0 + q;
            if (ia < d_ && ib <= ia)
              S[std::size_t(ia) * d_ + ib] += lane_sum(blocks[std::size_t(block) * 16 + p * 4 + q]);
          }
  }

  // Full second moments, component by component. Rows whose responsibility is exactly
  // zero add nothing: when they are many (clusters well apart: a component's share of
  // the other clusters' rows underflows), the others are first gathered into contiguous
  // lanes, if the multiply-adds saved outweigh the copying.
  void full_moments(const V* XT, std::int64_t stride, std::int64_t nb, std::int64_t t) {
    const std::size_t per_set = std::size_t(n_blocks_) * 16 + d4_;
    for (int c = 0; c < k_; ++c) {
      const V* rv = RV_.data() + std::size_t(c) * nb;
      const double* r = reinterpret_cast<const double*>(rv);
      decltype(V{} != V{}) nonzero{};  // minus the count of non-zeros, lane by lane
      for (std::int64_t b = 0; b < nb; ++b) nonzero += rv[b] != 0;
      std::int64_t m = 0;
      for (int l = 0; l < W; ++l) m -= nonzero[l];
      // Multiply-adds (W lanes at a time) against scalar copies, about a cycle each.
      const double saved = double(t - m) * (n_blocks_ * 16 + d4_) / W, copied = double(m) * (d4_ + 1);
      if (saved <= copied) {
        weighted_moments(XT, stride, nb, RV_.data() + std::size_t(c) * nb, m_.data() + std::size_t(c) * d4_, 1, true,
                         acc_.data() + std::size_t(c) * per_set);
        continue;
      }
      kept_.resize(std::size_t(t));
      for (std::int64_t i = 0, j = 0; i < t; ++i) {  // branch-free: zeros and non-zeros interleave
        kept_[j] = std::int32_t(i);
        j += r[i] != 0;
      }
      const std::int64_t mb = padded_rows<double>(m) / W, mstride = mb | 1;
      XC_.assign(std::size_t(d4_) * mstride, V{});
      RC_.assign(std::size_t(mb), V{});
      double* rc = reinterpret_cast<double*>(RC_.data());
      for (std::int64_t j = 0; j < m; ++j) rc[j] = r[kept_[j]];
      for (int a = 0; a < d4_; ++a)
        gather(reinterpret_cast<const double*>(XT + std::size_t(a) * stride), kept_.data(), m,
               reinterpret_cast<double*>(XC_.data() + std::size_t(a) * mstride));
      weighted_moments(XC_.data(), mstride, mb, RC_.data(), m_.data() + std::size_t(c) * d4_, 1, true,
                       acc_.data() + std::size_t(c) * per_set);
    }
  }

  // out[j] = x[idx[j]] for j < m.
  static void gather(const double* x, const std::int32_t* idx, std::int64_t m, double* out) {
    std::int64_t j = 0;
#if defined(__AVX512F__)
    for (; j + 8 <= m; j += 8)
      _mm512_storeu_pd(out + j,
                       _mm512_i32gather_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + j)), x, 8));
#endif
    for (; j < m; ++j) out[j] = x[idx[j]];
  }

  // For each of n_sets weightings (RV: n_sets x nb registers) and centers m (n_sets x d4):
  // first moments into each set's d4 sums and, with `second`, 4 x 4 blocks of the lower
  // triangle of the second moment (acc per set: n_blocks blocks of 16, then the sums).
  // r (x - m) of four features is formed once (it stays in L1) for their row of blocks,
  // which then are multiply-adds only, each over the whole tile.
  void weighted_moments(const V* XT, std::int64_t stride, std::int64_t nb, const V* RV, const double* m, int n_sets,
                        bool second, V* acc) {
    const int d4 = d4_;
    const std::size_t n_blocks = second ? std::size_t(n_blocks_) : 0, per_set = n_blocks * 16 + d4;
    RZ_.resize(std::size_t(4) * nb);
    for (int set = 0; set < n_sets; ++set) {
      const V* rv = RV + std::size_t(set) * nb;
      const double* ms = m + std::size_t(set) * d4;
      V* blocks = acc + std::size_t(set) * per_set;
      V* sums = blocks + n_blocks * 16;
      int block = 0;
      for (int a0 = 0; a0 < d4; a0 += 4) {
        if (second) {  // the diagonal block first: it forms r (x - m) for the row's others
          diagonal_block(XT + std::size_t(a0) * stride, stride, ms + a0, rv, nb, RZ_.data(), sums + a0,
                         blocks + std::size_t(block + a0 / 4) * 16);
          for (int b0 = 0; b0 < a0; b0 += 4)
            block4(RZ_.data(), nb, XT + std::size_t(b0) * stride, stride, ms + b0, nb,
                   blocks + std::size_t(block + b0 / 4) * 16);
          block += a0 / 4 + 1;
          continue;
        }
        for (int p = 0; p < 4; ++p) {
          const V* x = XT + std::size_t(a0 + p) * stride;
          V* rz = RZ_.data() + std::size_t(p) * nb;
          V s0{}, s1{};  // two chains hide the add latency
          std::int64_t b = 0;
          for (; b + 2 <= nb; b += 2) {
            rz[b] = (x[b] - ms[a0 + p]) * rv[b];
            rz[b + 1] = (x[b + 1] - ms[a0 + p]) * rv[b + 1];
            s0 += rz[b];
            s1 += rz[b + 1];
          }
          if (b < nb) s0 += rz[b] = (x[b] - ms[a0 + p]) * rv[b];
          sums[a0 + p] += s0 + s1;
        }
      }
    }
  }

  // The block of features a0..a0+3 with themselves (x: their rows in lanes): z = x - m,
  // rz = r z, kept in rz (4 x nb) for the row's other blocks; sums += rz; out[p][q] +=
  // sum_b rz_p z_q for q <= p (the upper part of the block is never read).
  static void diagonal_block(const V* x, std::int64_t stride, const double* m, const V* rv, std::int64_t nb, V* rz,
                             V* sums, V* out) {
    V c[4][4], s[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {
      s[p] = sums[p];
#pragma GCC unroll 4
      for (int q = 0; q <= p; ++q) c[p][q] = out[p * 4 + q];
    }
    for (std::int64_t b = 0; b < nb; ++b) {
      V z[4], za[4];
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) {
        z[p] = x[std::size_t(p) * stride + b] - m[p];
        za[p] = z[p] * rv[b];
        rz[std::size_t(p) * nb + b] = za[p];
        s[p] += za[p];
      }
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p)
#pragma GCC unroll 4
        for (int q = 0; q <= p; ++q) c[p][q] += za[p] * z[q];
    }
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {
      sums[p] = s[p];
#pragma GCC unroll 4
      for (int q = 0; q <= p; ++q) out[p * 4 + q] = c[p][q];
    }
  }

  // out[p][q] += sum_b rz[p][b] (x[q][b] - m[q]) for a 4 x 4 block below the diagonal.
  static void block4(const V* rz, std::int64_t rz_stride, const V* x, std::int64_t stride, const double* m,
                     std::int64_t len, V* out) {
    V c[4][4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p)
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) c[p][q] = out[p * 4 + q];
    for (std::int64_t b = 0; b < len; ++b) {
      V za[4], zb[4];
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) za[p] = rz[std::size_t(p) * rz_stride + b];
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) zb[q] = x[std::size_t(q) * stride + b] - m[q];
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p)
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) c[p][q] += za[p] * zb[q];
    }
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p)
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) out[p * 4 + q] = c[p][q];
  }

  // Diagonal second moments: per component and feature, vectorised over rows, two chains
  // per sum (acc per component and feature: s1, s1, s2, s2).
  void diagonal_moments(const V* XT, std::int64_t stride, std::int64_t nb) {
    for (int c = 0; c < k_; ++c) {
      const V* rv = RV_.data() + std::size_t(c) * nb;
      const double* m = m_.data() + std::size_t(c) * d4_;
      for (int a = 0; a < d_; ++a) {
        V* acc = acc_.data() + (std::size_t(c) * d_ + a) * 4;
        V s1[2] = {acc[0], acc[1]}, s2[2] = {acc[2], acc[3]};
        const V* x = XT + std::size_t(a) * stride;
        std::int64_t b = 0;
        for (; b + 2 <= nb; b += 2)
#pragma GCC unroll 2
          for (int u = 0; u < 2; ++u) {
            const V z = x[b + u] - m[a];
            const V rz = rv[b + u] * z;
            s1[u] += rz;
            s2[u] += rz * z;
          }
        if (b < nb) {
          const V z = x[b] - m[a];
          s1[0] += rv[b] * z;
          s2[0] += rv[b] * z * z;
        }
        acc[0] = s1[0], acc[1] = s1[1], acc[2] = s2[0], acc[3] = s2[1];
      }
    }
  }

  CovarianceType type_ = CovarianceType::Full;
  int k_ = 0, d_ = 0, d4_ = 0, n_blocks_ = 0;
  std::vector<double> m_, tied_m_;
  std::vector<V> nk_, acc_, tied_acc_, RV_, RW_, RZ_, XC_, RC_;
  std::vector<std::int32_t> kept_;
};

/// Adds rows X (t x d, row-major) with responsibilities R (t x k, already multiplied by
/// the sample weights) to st. row_weight (t, or null for ones) is sum_k R(i, k), needed
/// by the tied second moment. sums and XT are buffers the caller reuses across calls.
template <class T>
void accumulate(const T* X, std::int64_t t, const Eigen::Ref<const ColArr>& R, const double* row_weight,
                SufficientStats& st, MomentSums& sums, std::vector<Simd<double>::V>& XT) {
  constexpr int W = Simd<double>::W;
  constexpr std::int64_t kTile = 512;
  const int d = st.n_features, d4 = (d + 3) / 4 * 4;
  const std::vector<double> origin(std::size_t(d), 0.0);
  sums.reset(st, origin);
  for (std::int64_t i0 = 0; i0 < t; i0 += kTile) {
    const std::int64_t len = std::min(kTile, t - i0), nb = padded_rows<double>(len) / W, stride = nb | 1;
    XT.resize(std::size_t(d4) * stride);
    rows_to_lanes<T, double>(X + i0 * d, len, d, origin.data(), d4, nb, stride, XT.data());
    sums.add(XT.data(), stride, nb, R.middleRows(i0, len), row_weight ? row_weight + i0 : nullptr);
  }
  sums.flush(st);
}

}  // namespace scalegen::mixture::detail
