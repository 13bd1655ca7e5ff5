// Winograd F(7x7, 2x2) for 4 x 4 stride-2 convolutions (see winograd.hpp). Tiles are 7 x 7
// outputs of one image; a phase's input tile is 8 x 8 cells of that phase, the last row and
// column shared with the next tile. Every transform works on vectors of 16 channels; the
// transformed data is laid out tile-major (rows x 64 x channels): a tile's transform writes one
// contiguous block, and each position's GEMM reads its rows 64 x channels apart.
#include "winograd.hpp"

#include <algorithm>
#include <type_traits>

#include "matmul.hpp"
#include "scalegen/common/parallel.hpp"
#include "scratch.hpp"

namespace scalegen::nn {
namespace {

constexpr int kLanes = 16;
typedef float Vec __attribute__((vector_size(kLanes * 4)));
typedef float VecU __attribute__((vector_size(kLanes * 4), aligned(4)));
inline Vec load(const float* p) {
  return *reinterpret_cast<const VecU*>(p);
}
inline void store(float* p, Vec v) {
  *reinterpret_cast<VecU*>(p) = v;
}
inline void add_to(float* p, Vec v) {
  *reinterpret_cast<VecU*>(p) += v;
}

template <int R, int C>
struct Mat {
  float v[R][C];
};
template <int R, int C>
constexpr Mat<C, R> transposed(const Mat<R, C>& m) {
  Mat<C, R> t{};
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) t.v[j][i] = m.v[i][j];
  return t;
}

// Toom-Cook at 0, 1, -1, 2, -2, 1/2, -1/2 and infinity (exact rationals, rounded once).
constexpr Mat<7, 8> kAT{{{1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 0.f},
                         {0.f, 1.f, -1.f, 2.f, -2.f, 1.f / 2, -1.f / 2, 0.f},
                         {0.f, 1.f, 1.f, 4.f, 4.f, 1.f / 4, 1.f / 4, 0.f},
                         {0.f, 1.f, -1.f, 8.f, -8.f, 1.f / 8, -1.f / 8, 0.f},
                         {0.f, 1.f, 1.f, 16.f, 16.f, 1.f / 16, 1.f / 16, 0.f},
                         {0.f, 1.f, -1.f, 32.f, -32.f, 1.f / 32, -1.f / 32, 0.f},
                         {0.f, 1.f, 1.f, 64.f, 64.f, 1.f / 64, 1.f / 64, 1.f}}};
constexpr Mat<8, 2> kG{
    {{1.f, 0.f}, {1.f, 1.f}, {1.f, -1.f}, {1.f, 2.f}, {1.f, -2.f}, {1.f, 1.f / 2}, {1.f, -1.f / 2}, {0.f, 1.f}}};
constexpr Mat<8, 8> kBT{{{1.f, 0.f, -21.f / 4, 0.f, 21.f / 4, 0.f, -1.f, 0.f},
                         {0.f, -2.f / 9, -2.f / 9, 17.f / 18, 17.f / 18, -2.f / 9, -2.f / 9, 0.f},
                         {0.f, 2.f / 9, -2.f / 9, -17.f / 18, 17.f / 18, 2.f / 9, -2.f / 9, 0.f},
                         {0.f, 1.f / 180, 1.f / 360, -1.f / 36, -1.f / 72, 1.f / 45, 1.f / 90, 0.f},
                         {0.f, -1.f / 180, 1.f / 360, 1.f / 36, -1.f / 72, -1.f / 45, 1.f / 90, 0.f},
                         {0.f, 64.f / 45, 128.f / 45, -16.f / 9, -32.f / 9, 16.f / 45, 32.f / 45, 0.f},
                         {0.f, -64.f / 45, 128.f / 45, 16.f / 9, -32.f / 9, -16.f / 45, 32.f / 45, 0.f},
                         {0.f, -1.f, 0.f, 21.f / 4, 0.f, -21.f / 4, 0.f, 1.f}}};
constexpr Mat<8, 7> kA = transposed(kAT);
constexpr Mat<2, 8> kGT = transposed(kG);
constexpr Mat<8, 8> kB = transposed(kBT);

// sum_k row[k] get(k), zero coefficients skipped: the loops unroll, so the coefficients are
// constants and the zeros and ones fold away.
template <int N, class Get>
inline Vec combine(const float (&row)[N], Get&& get) {
  Vec acc{};
  bool started = false;
#pragma GCC unroll 8
  for (int k = 0; k < N; ++k)
    if (row[k] != 0.0f) {
      const Vec t = row[k] * get(k);
      acc = started ? acc + t : t;
      started = true;
    }
  return acc;
}

// out (R1 x R2) = P in Q^T, with in (C1 x C2) and out row-major arrays of vectors.
template <const auto& P, const auto& Q>
inline void sandwich(const Vec* in, Vec* out) {
  constexpr int R1 = std::extent_v<decltype(P.v), 0>;
  constexpr int R2 = std::extent_v<decltype(Q.v), 0>, C2 = std::extent_v<decltype(Q.v), 1>;
  Vec tmp[R1][C2];
#pragma GCC unroll 8
  for (int j = 0; j < C2; ++j)
#pragma GCC unroll 8
    for (int i = 0; i < R1; ++i) tmp[i][j] = combine(P.v[i], [&](int k) { return in[k * C2 + j]; });
#pragma GCC unroll 8
  for (int i = 0; i < R1; ++i)
#pragma GCC unroll 8
    for (int l = 0; l < R2; ++l) out[i * R2 + l] = combine(Q.v[l], [&](int k) { return tmp[i][k]; });
}

constexpr int kPos = int(kTilePositions);

// The taps of phase p's 2 x 2 part weighted by position pos's coefficients G[j][a] G[l][b]
// (pos = 8 j + l), zeros left out: their number.
int phase_taps(int pos, int p, int (&taps)[4], float (&k)[4]) {
  int m = 0;
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      if (const float c = kG.v[pos / 8][a] * kG.v[pos % 8][b]; c != 0.0f) {
        taps[m] = (2 * a + p / 2) * 4 + 2 * b + p % 2;
        k[m++] = c;
      }
  return m;
}

// out[0, len) = sum over t < m of k[t] src[t][0, len), len a multiple of the vector width.
inline void weighted_sum(const float* const* src, const float* k, int m, std::int64_t len, float* out) {
  for (std::int64_t i = 0; i < len; i += kLanes) {
    Vec acc = k[0] * load(src[0] + i);
    for (int t = 1; t < m; ++t) acc += k[t] * load(src[t] + i);
    store(out + i, acc);
  }
}

}  // namespace

bool Winograd4x4s2::applies(const ConvGeometry& g, std::int64_t filters) {
  const std::int64_t C = g.in.c;
  return g.kh == 4 && g.kw == 4 && g.sh == 2 && g.sw == 2 && g.pt == 1 && g.pl == 1 && g.dh == 1 && g.dw == 1 &&
         g.channels() == g.in.c && C % kLanes == 0 && filters % kLanes == 0 && filters > 0 &&
         kPos * 4 * C * filters <= (std::int64_t(1) << 24);
}

Winograd4x4s2::Winograd4x4s2(const ConvGeometry& geo, std::int64_t filters)
    : H_(geo.in.h), W_(geo.in.w), Ho_(geo.out.h), Wo_(geo.out.w), C_(geo.in.c), F_(filters) {
  th_ = (Ho_ + 6) / 7, tw_ = (Wo_ + 6) / 7;
  K_ = 4 * C_, T_ = std::int64_t(th_) * tw_;
}

std::int64_t Winograd4x4s2::chunk_images() const {
  const std::int64_t rows = std::max<std::int64_t>(6, (std::int64_t(1) << 21) / (kPos * (K_ + F_)));
  return std::max<std::int64_t>(1, rows / T_);
}

void Winograd4x4s2::kernel_at(const float* w, int pos, bool transposed, float* U) const {
  const std::int64_t CF = C_ * F_;
  // rows of U[pos] (4C x F: phase p's channel c) or of U[pos]^T (F x 4C: filter f, whose
  // row holds the four phases' channels), each a weighted sum of rows of w (w^T per tap)
  const std::int64_t rows = transposed ? F_ : C_, len = transposed ? C_ : F_;
  for (int p = 0; p < 4; ++p) {
    int taps[4];
    float k[4];
    const int m = phase_taps(pos, p, taps, k);
    for (std::int64_t i = 0; i < rows; ++i) {
      const float* src[4];
      for (int t = 0; t < m; ++t) src[t] = w + taps[t] * CF + i * len;
      weighted_sum(src, k, m, len, transposed ? U + i * K_ + p * C_ : U + (p * C_ + i) * F_);
    }
  }
}

void Winograd4x4s2::add_kernel_gradient(const float* dU, int pos, float* dw) const {
  const std::int64_t CF = C_ * F_;
  for (int p = 0; p < 4; ++p) {
    int taps[4];
    float k[4];
    const int m = phase_taps(pos, p, taps, k);
    for (int t = 0; t < m; ++t)
      for (std::int64_t i = 0; i < CF; i += kLanes) add_to(dw + taps[t] * CF + i, k[t] * load(dU + p * CF + i));
  }
}

void Winograd4x4s2::input_tiles(const float* x, std::int64_t s0, std::int64_t s1, float* V, int n_threads) const {
  const std::int64_t R = (s1 - s0) * T_;
  parallel_for_flushed(n_threads, R, [&](std::int64_t r) {
    const std::int64_t s = s0 + r / T_;
    const int ti = int(r % T_) / tw_, tj = int(r % T_) % tw_;
    for (int p = 0; p < 4; ++p)
      for (std::int64_t c0 = 0; c0 < C_; c0 += kLanes) {
        Vec d[kPos], v[kPos];
        for (int a = 0; a < 8; ++a) {
          const int ih = 2 * (7 * ti + a) + p / 2 - 1;
          for (int b = 0; b < 8; ++b) {
            const int iw = 2 * (7 * tj + b) + p % 2 - 1;
            const bool inside = ih >= 0 && ih < H_ && iw >= 0 && iw < W_;
            d[a * 8 + b] = inside ? load(x + ((s * H_ + ih) * W_ + iw) * C_ + c0) : Vec{};
          }
        }
        sandwich<kBT, kBT>(d, v);
        for (int pos = 0; pos < kPos; ++pos) store(V + (r * kPos + pos) * K_ + p * C_ + c0, v[pos]);
      }
  });
}

void Winograd4x4s2::output_grad_tiles(const float* dy, std::int64_t s0, std::int64_t s1, float* M,
                                      int n_threads) const {
  const std::int64_t R = (s1 - s0) * T_;
  parallel_for_flushed(n_threads, R, [&](std::int64_t r) {
    const std::int64_t s = s0 + r / T_;
    const int ti = int(r % T_) / tw_, tj = int(r % T_) % tw_;
    for (std::int64_t f0 = 0; f0 < F_; f0 += kLanes) {
      Vec g[49], m[kPos];
      for (int i = 0; i < 7; ++i)
        for (int j = 0; j < 7; ++j) {
          const int oh = 7 * ti + i, ow = 7 * tj + j;
          g[i * 7 + j] = oh < Ho_ && ow < Wo_ ? load(dy + ((s * Ho_ + oh) * Wo_ + ow) * F_ + f0) : Vec{};
        }
      sandwich<kA, kA>(g, m);
      for (int pos = 0; pos < kPos; ++pos) store(M + (r * kPos + pos) * F_ + f0, m[pos]);
    }
  });
}

void Winograd4x4s2::forward(const float* x, const float* w, float* y, std::int64_t n, int n_threads,
                            float* keep_tiles) const {
  const std::int64_t per = chunk_images();
  const ScratchLease scratch(keep_tiles ? 0 : std::size_t(kPos * per * T_ * K_)), M(std::size_t(kPos * per * T_ * F_));
  for (std::int64_t s0 = 0; s0 < n; s0 += per) {
    const std::int64_t s1 = std::min(n, s0 + per), R = (s1 - s0) * T_;
    float* V = keep_tiles ? keep_tiles + s0 * T_ * kPos * K_ : scratch.data();
    input_tiles(x, s0, s1, V, n_threads);
    parallel_for_flushed(n_threads, kPos, [&](std::int64_t pos) {
      const ScratchLease U(std::size_t(K_ * F_));
      kernel_at(w, int(pos), false, U.data());
      gemm_nn(R, F_, K_, V + pos * K_, kPos * K_, U.data(), F_, M.data() + pos * F_, kPos * F_);
    });
    parallel_for_flushed(n_threads, R, [&](std::int64_t r) {
      const std::int64_t s = s0 + r / T_;
      const int ti = int(r % T_) / tw_, tj = int(r % T_) % tw_;
      for (std::int64_t f0 = 0; f0 < F_; f0 += kLanes) {
        Vec m[kPos], out[49];
        for (int pos = 0; pos < kPos; ++pos) m[pos] = load(M.data() + (r * kPos + pos) * F_ + f0);
        sandwich<kAT, kAT>(m, out);
        for (int i = 0; i < 7 && 7 * ti + i < Ho_; ++i)
          for (int j = 0; j < 7 && 7 * tj + j < Wo_; ++j)
            store(y + ((s * Ho_ + 7 * ti + i) * Wo_ + 7 * tj + j) * F_ + f0, out[i * 7 + j]);
      }
    });
  }
}

void Winograd4x4s2::backward(const float* x, const float* dy, const float* w, float* dx, float* dw, std::int64_t n,
                             int n_threads, const float* kept_tiles) const {
  if (dx == nullptr && dw == nullptr) return;
  const std::int64_t CF = C_ * F_;
  const ScratchLease wt(dx != nullptr ? std::size_t(16 * CF) : 0);  // w transposed per tap (F x C)
  if (dx != nullptr)
    parallel_for_flushed(n_threads, 16, [&](std::int64_t t) {
      mat(wt.data() + t * CF, F_, C_, C_) = cmat(w + t * CF, C_, F_, F_).transpose();
    });
  // the kernel's gradient: per fixed group of positions a partial sum, added in group order
  // (the same bits for any thread count)
  constexpr int kGroups = 4;
  const ScratchLease partials(dw != nullptr ? std::size_t(kGroups * 16 * CF) : 0);
  if (dw != nullptr) std::fill(partials.data(), partials.data() + kGroups * 16 * CF, 0.0f);
  const std::int64_t per = chunk_images();
  const ScratchLease V(std::size_t(kPos * per * T_ * K_)), M(std::size_t(kPos * per * T_ * F_));
  for (std::int64_t s0 = 0; s0 < n; s0 += per) {
    const std::int64_t s1 = std::min(n, s0 + per), R = (s1 - s0) * T_;
    output_grad_tiles(dy, s0, s1, M.data(), n_threads);
    if (dw != nullptr) {
      const float* Vx = kept_tiles ? kept_tiles + s0 * T_ * kPos * K_ : V.data();
      if (kept_tiles == nullptr) input_tiles(x, s0, s1, V.data(), n_threads);
      parallel_for_flushed(n_threads, kGroups, [&](std::int64_t g) {
        const ScratchLease dU(std::size_t(K_ * F_));
        for (int pos = int(g) * kPos / kGroups; pos < int(g + 1) * kPos / kGroups; ++pos) {
          gemm_tn(K_, F_, R, Vx + pos * K_, kPos * K_, M.data() + pos * F_, kPos * F_, dU.data(), F_, false);
          add_kernel_gradient(dU.data(), pos, partials.data() + g * 16 * CF);
        }
      });
    }
    if (dx == nullptr) continue;
    // the input tiles' gradients, over the input tiles
    parallel_for_flushed(n_threads, kPos, [&](std::int64_t pos) {
      const ScratchLease UT(std::size_t(K_ * F_));
      kernel_at(wt.data(), int(pos), true, UT.data());
      gemm_nn(R, K_, F_, M.data() + pos * F_, kPos * F_, UT.data(), K_, V.data() + pos * K_, kPos * K_);
    });
    // Tiles overlap by one cell (the last row or column of a tile is the first of the
    // next): in raster order a cell is stored when no earlier tile has it, else added.
    // The tiles cover rows [0, 14 th_] and columns [0, 14 tw_]; a larger input (never, for
    // the sizes a layer builds) is zeroed first.
    const bool covered = H_ <= 14 * th_ + 1 && W_ <= 14 * tw_ + 1;
    parallel_for_flushed(n_threads, s1 - s0, [&](std::int64_t i) {
      const std::int64_t s = s0 + i;
      float* img = dx + s * std::int64_t(H_) * W_ * C_;
      if (!covered) std::fill(img, img + std::int64_t(H_) * W_ * C_, 0.0f);
      for (std::int64_t r = i * T_; r < (i + 1) * T_; ++r) {
        const int ti = int(r % T_) / tw_, tj = int(r % T_) % tw_;
        for (int p = 0; p < 4; ++p)
          for (std::int64_t c0 = 0; c0 < C_; c0 += kLanes) {
            Vec v[kPos], d[kPos];
            for (int pos = 0; pos < kPos; ++pos) v[pos] = load(V.data() + (r * kPos + pos) * K_ + p * C_ + c0);
            sandwich<kB, kB>(v, d);
            for (int a = 0; a < 8; ++a) {
              const int ih = 2 * (7 * ti + a) + p / 2 - 1;
              if (ih < 0 || ih >= H_) continue;
              for (int b = 0; b < 8; ++b) {
                const int iw = 2 * (7 * tj + b) + p % 2 - 1;
                if (iw < 0 || iw >= W_) continue;
                float* at = img + (std::int64_t(ih) * W_ + iw) * C_ + c0;
                if (covered && (a > 0 || ti == 0) && (b > 0 || tj == 0))
                  store(at, d[a * 8 + b]);
                else
                  add_to(at, d[a * 8 + b]);
              }
            }
          }
      }
    });
  }
  if (dw != nullptr) sum_partials_ordered(n_threads, partials.data(), kGroups, 16 * CF, 16 * CF, dw);
}

}  // namespace scalegen::nn
