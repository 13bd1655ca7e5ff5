// Packing of the samples, k nearest neighbours and the k-NN manifold counts.
#include <atomic>
#include <cmath>
#include <mutex>
#include <limits>
#include <stdexcept>
#include <string>

#include "distance_tile.hpp"
#include "scalegen/common/limits.hpp"
#include "scalegen/common/parallel.hpp"

namespace scalegen::metrics {

using detail::DistanceTile;
using detail::any;
using detail::kLanes;
using detail::kScan;
using detail::kTile;
using detail::load;
using detail::splat;
using detail::VecD;
using detail::VecI;
using detail::tile_count;

template <class T>
std::vector<double> pooled_mean(const T* X, std::int64_t n, const T* Y, std::int64_t m, int d) {
  std::vector<double> mean(std::size_t(d), 0.0);
  for (const auto& [rows, count] : {std::pair{X, n}, std::pair{Y, m}})
    for (std::int64_t i = 0; i < count; ++i)
      for (int c = 0; c < d; ++c) mean[c] += double(rows[i * d + c]);
  const double total = double(n + m);
  for (double& v : mean) v = std::nearbyint(v / total);
  return mean;
}

template <class T>
PackedRows pack_rows(const T* X, std::int64_t n_x, const T* Y, std::int64_t m, int d, const std::vector<double>& center,
                     int n_threads) {
  const std::int64_t n = n_x + m, tiles = tile_count(n);
  const std::int64_t cells = checked_mul(checked_mul(tiles, detail::kStride, "rows"), d, "rows x features");
  check_total_bytes(2 * check_tensor_bytes(cells, sizeof(double), "the float64 copy of the samples"),
                    "the float64 copies of the samples");
  PackedRows p;
  p.n = n;
  p.d = d;
  p.x.resize(std::size_t(n) * d);
  p.xt.assign(std::size_t(cells), 0.0);
  p.norm2.assign(std::size_t(tiles * kTile), 0.0);
  parallel_for(n_threads, tiles, [&](std::int64_t t) {
    double* xt = p.xt.data() + t * detail::kStride * d;
    for (std::int64_t i = t * kTile; i < std::min(n, (t + 1) * kTile); ++i) {
      const T* src = i < n_x ? X + i * d : Y + (i - n_x) * d;
      double s = 0;
      for (int c = 0; c < d; ++c) {
        const double v = double(src[c]) - center[c];
        p.x[i * d + c] = v;
        xt[c * detail::kStride + (i - t * kTile)] = v;
        s += v * v;
      }
      p.norm2[i] = s;
    }
  });
  for (std::int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p.norm2[i]))
      throw std::invalid_argument(
          "the squared distances overflow float64 (the rows spread beyond ~1e154 around their mean): "
          "rescale the data");
  return p;
}

namespace {

/// Offers candidate j at squared distance v to a row's k nearest (dk ascending, ik): the
/// order is (distance, index), so the result does not depend on the order of the offers.
inline void offer(double* dk, std::int64_t* ik, int k, double v, std::int64_t j) {
  if (v > dk[k - 1] || (v == dk[k - 1] && j >= ik[k - 1])) return;
  int p = k - 1;
  for (; p > 0 && (dk[p - 1] > v || (dk[p - 1] == v && ik[p - 1] > j)); --p) {
    dk[p] = dk[p - 1];
    ik[p] = ik[p - 1];
  }
  dk[p] = v;
  ik[p] = j;
}

/// True when some column in [j0, j0 + kScan) of `row` is at most `limit` (or at most the
/// column's own limit, when `columns` is given): a prefilter, exact tests follow.
inline bool some_at_most(const double* row, std::int64_t j0, double limit, const double* columns) {
  const VecD lim = splat(limit);
  VecI hit{};
  for (int c = 0; c < 4; ++c) {
    const VecD v = load(row + j0 + c * kLanes);
    hit |= v <= lim;
    if (columns != nullptr) hit |= v <= load(columns + j0 + c * kLanes);
  }
  return any(hit);
}

struct Hit {
  std::int64_t row, col;
  double d2;
};

/// k nearest within one sample, each pair's distance computed once: the task of row tile a
/// takes column tiles b >= a and offers each pair to both rows, merging into a tile's rows
/// under that tile's lock. The prefilter reads the rows' current k-th distances without the
/// lock (atomics): a stale one is larger, so it only lets more candidates through.
Neighbours self_neighbours(const PackedRows& P, int k, Neighbours out, int n_threads) {
  const std::int64_t tiles = tile_count(P.n);
  std::vector<std::mutex> locks(static_cast<std::size_t>(tiles));
  std::vector<std::atomic<double>> worst(static_cast<std::size_t>(tiles * kTile));
  for (auto& w : worst) w.store(std::numeric_limits<double>::infinity(), std::memory_order_relaxed);
  const auto merge = [&](std::int64_t tile, const std::vector<Hit>& hits) {
    std::lock_guard<std::mutex> guard(locks[std::size_t(tile)]);
    for (const Hit& h : hits) {
      double* dk = out.dist2.data() + h.row * k;
      offer(dk, out.index.data() + h.row * k, k, h.d2, h.col);
      worst[std::size_t(h.row)].store(dk[k - 1], std::memory_order_relaxed);
    }
  };
  parallel_for_flushed(n_threads, tiles, [&](std::int64_t a) {
    DistanceTile tile;
    std::vector<Hit> row_hits, col_hits;
    std::vector<double> col_limit(kTile);
    const std::int64_t a0 = a * kTile, na = std::min(kTile, P.n - a0);
    for (std::int64_t b = a; b < tiles; ++b) {
      const std::int64_t b0 = b * kTile, nb = std::min(kTile, P.n - b0);
      tile.compute(P, a0, na, P, b);
      row_hits.clear();
      col_hits.clear();
      // the diagonal tile holds every pair of its rows both ways: rows only
      const double* columns = nullptr;
      if (a != b) {
        for (std::int64_t j = 0; j < kTile; ++j)
          col_limit[j] = j < nb ? worst[std::size_t(b0 + j)].load(std::memory_order_relaxed) : -1.0;
        columns = col_limit.data();
      }
      for (std::int64_t i = 0; i < na; ++i) {
        double* row = tile.row(i);
        if (a == b) row[i] = std::numeric_limits<double>::infinity();  // not its own neighbour
        const double limit = worst[std::size_t(a0 + i)].load(std::memory_order_relaxed);
        for (std::int64_t j0 = 0; j0 < nb; j0 += kScan) {
          if (!some_at_most(row, j0, limit, columns)) continue;
          for (std::int64_t j = j0; j < std::min(j0 + kScan, nb); ++j) {
            if (row[j] <= limit) row_hits.push_back({a0 + i, b0 + j, row[j]});
            if (columns != nullptr && row[j] <= columns[j]) col_hits.push_back({b0 + j, a0 + i, row[j]});
          }
        }
      }
      merge(a, row_hits);
      if (a != b) merge(b, col_hits);
    }
  });
  return out;
}

}  // namespace

Neighbours nearest_neighbours(const PackedRows& Q, const PackedRows& R, int k, bool same, int n_threads) {
  if (k < 1 || k > R.n - (same ? 1 : 0))
    throw std::invalid_argument("k = " + std::to_string(k) + " neighbours asked among " +
                                std::to_string(R.n - (same ? 1 : 0)) + " candidate rows");
  const std::int64_t cells = checked_mul(Q.n, k, "rows x neighbours");
  check_tensor_bytes(cells, sizeof(double), "the neighbour distances");
  Neighbours out;
  out.dist2.assign(std::size_t(cells), std::numeric_limits<double>::infinity());
  out.index.assign(std::size_t(cells), -1);
  if (same) return self_neighbours(Q, k, std::move(out), n_threads);
  parallel_for_flushed(n_threads, tile_count(Q.n), [&](std::int64_t a) {
    DistanceTile tile;
    const std::int64_t a0 = a * kTile, na = std::min(kTile, Q.n - a0);
    for (std::int64_t b = 0; b < tile_count(R.n); ++b) {
      const std::int64_t b0 = b * kTile, nb = std::min(kTile, R.n - b0);
      tile.compute(Q, a0, na, R, b);
      for (std::int64_t i = 0; i < na; ++i) {
        double* dk = out.dist2.data() + (a0 + i) * k;
        std::int64_t* ik = out.index.data() + (a0 + i) * k;
        const double* row = tile.row(i);
        for (std::int64_t j0 = 0; j0 < nb; j0 += kScan) {
          if (!some_at_most(row, j0, dk[k - 1], nullptr)) continue;
          for (std::int64_t j = j0; j < std::min(j0 + kScan, nb); ++j) offer(dk, ik, k, row[j], b0 + j);
        }
      }
    }
  });
  return out;
}

namespace {
/// prdc's d < r on distances, for squared distance v and radius r (r2 = r * r as computed):
/// the cheap squared test first, the roots only when it passes.
inline bool inside(double v, double r2, double r) { return v < r2 && std::sqrt(v) < r; }
}  // namespace

ManifoldCounts manifold_counts(const PackedRows& real, const PackedRows& fake, const std::vector<double>& real_r2,
                               const std::vector<double>& fake_r2, int n_threads) {
  if (std::int64_t(real_r2.size()) != real.n || std::int64_t(fake_r2.size()) != fake.n)
    throw std::invalid_argument("one radius per row is needed");
  const int threads = resolve_threads(n_threads);
  check_tensor_bytes(checked_mul(threads, fake.n, "threads x fake rows"), sizeof(std::int64_t), "the ball counts");
  std::vector<double> real_r(real_r2.size()), fake_r(fake_r2.size());
  for (std::size_t i = 0; i < real_r.size(); ++i) real_r[i] = std::sqrt(real_r2[i]);
  for (std::size_t j = 0; j < fake_r.size(); ++j) fake_r[j] = std::sqrt(fake_r2[j]);
  std::vector<double> fake_r2_padded(std::size_t(tile_count(fake.n) * kTile), 0.0);  // for whole scan steps
  std::copy(fake_r2.begin(), fake_r2.end(), fake_r2_padded.begin());
  // Integer counts per thread: their sum does not depend on which thread counted what.
  std::vector<std::vector<std::int64_t>> hits(std::size_t(threads), std::vector<std::int64_t>(fake.n, 0));
  ManifoldCounts out;
  out.real_in_fake_balls.assign(std::size_t(real.n), 0);
  out.real_ball_hit.assign(std::size_t(real.n), 0);
  parallel_for_flushed(threads, tile_count(real.n), [&](std::int64_t a) {
    std::vector<std::int64_t>& h = hits[std::size_t(scalegen::detail::current_thread_num())];
    DistanceTile tile;
    const std::int64_t a0 = a * kTile, na = std::min(kTile, real.n - a0);
    for (std::int64_t b = 0; b < tile_count(fake.n); ++b) {
      const std::int64_t b0 = b * kTile, nb = std::min(kTile, fake.n - b0);
      tile.compute(real, a0, na, fake, b);
      for (std::int64_t i = 0; i < na; ++i) {
        const double* row = tile.row(i);
        const double r2 = real_r2[a0 + i], r = real_r[a0 + i];
        bool hit = false, recalled = out.real_in_fake_balls[a0 + i] != 0;
        for (std::int64_t j0 = 0; j0 < nb; j0 += kScan) {
          if (!some_at_most(row, j0, r2, fake_r2_padded.data() + b0)) continue;
          for (std::int64_t j = j0; j < std::min(j0 + kScan, nb); ++j) {
            const double v = row[j];
            if (inside(v, r2, r)) {
              ++h[b0 + j];
              hit = true;
            }
            if (!recalled && inside(v, fake_r2[b0 + j], fake_r[b0 + j])) recalled = true;
          }
        }
        if (hit) out.real_ball_hit[a0 + i] = 1;
        out.real_in_fake_balls[a0 + i] = recalled ? 1 : 0;
      }
    }
  });
  out.fake_in_real_balls = std::move(hits[0]);
  for (int t = 1; t < threads; ++t)
    for (std::int64_t j = 0; j < fake.n; ++j) out.fake_in_real_balls[j] += hits[t][j];
  return out;
}

template std::vector<double> pooled_mean<float>(const float*, std::int64_t, const float*, std::int64_t, int);
template std::vector<double> pooled_mean<double>(const double*, std::int64_t, const double*, std::int64_t, int);
template PackedRows pack_rows<float>(const float*, std::int64_t, const float*, std::int64_t, int,
                                     const std::vector<double>&, int);
template PackedRows pack_rows<double>(const double*, std::int64_t, const double*, std::int64_t, int,
                                      const std::vector<double>&, int);

}  // namespace scalegen::metrics
