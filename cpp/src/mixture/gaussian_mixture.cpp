#include "scalegen/mixture/gaussian_mixture.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "moments.hpp"
#include "scalegen/common/fpu.hpp"
#include "scalegen/common/parallel.hpp"
#include "tile_kernel.hpp"

namespace scalegen::mixture {
namespace {

using detail::ColArr;
using detail::RowMat;
template <class T>
using RowArr = Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// Statistics of all blocks alive at once stay under this many bytes.
constexpr std::int64_t kBlockStatsBudget = 64LL << 20;
constexpr std::int64_t kMaxBlocksAlive = 512;

const char* kIllDefinedCovariance =
    "Fitting the mixture model failed because some components have ill-defined empirical "
    "covariance (for instance caused by singleton or collapsed samples). Try to decrease the "
    "number of components, increase reg_covar, or scale the input data.";

std::int64_t s2_size(CovarianceType type, int k, int d) {
  switch (type) {
    case CovarianceType::Full: return std::int64_t(k) * d * d;
    case CovarianceType::Tied: return std::int64_t(d) * d;
    default: return std::int64_t(k) * d;
  }
}

// Blocks of kStatsBlockRows rows from row 0, computed in parallel waves and merged into
// `total` in row order: the bits depend on the block boundaries only, never on the
// thread count or on how the rows were split into calls.
template <class Fn>
void run_blocks(SufficientStats& total, std::int64_t n, int n_threads, Fn&& block_fn) {
  const SufficientStats zero(total.type, total.n_components, total.n_features, total.shift);
  const std::int64_t count = (n + kStatsBlockRows - 1) / kStatsBlockRows;
  const std::int64_t stats_bytes = std::max<std::int64_t>(1, std::int64_t(zero.s1.size() + zero.s2.size()) * 8);
  const std::int64_t wave = std::clamp<std::int64_t>(kBlockStatsBudget / stats_bytes, 1, kMaxBlocksAlive);
  std::vector<SufficientStats> parts(static_cast<std::size_t>(std::min(wave, count)));
  parallel_reduce_ordered(
      n_threads, count,
      [&](std::int64_t slot, std::int64_t b) {
        SufficientStats& part = parts[static_cast<std::size_t>(slot)];
        part = zero;
        block_fn(b * kStatsBlockRows, std::min(n, (b + 1) * kStatsBlockRows), part);
      },
      [&](std::int64_t slot, std::int64_t) { total.merge(parts[static_cast<std::size_t>(slot)]); }, wave);
}

void check_finite(const std::vector<double>& v, const char* what) {
  for (double x : v) {
    if (!std::isfinite(x)) throw std::invalid_argument(std::string(what) + " must be finite");
  }
}

}  // namespace

CovarianceType parse_covariance_type(const std::string& name) {
  if (name == "full") return CovarianceType::Full;
  if (name == "tied") return CovarianceType::Tied;
  if (name == "diag") return CovarianceType::Diag;
  if (name == "spherical") return CovarianceType::Spherical;
  throw std::invalid_argument("covariance_type must be 'full', 'tied', 'diag' or 'spherical', got '" + name + "'");
}

std::int64_t prec_chol_size(CovarianceType type, int k, int d) {
  switch (type) {
    case CovarianceType::Full: return std::int64_t(k) * d * d;
    case CovarianceType::Tied: return std::int64_t(d) * d;
    case CovarianceType::Diag: return std::int64_t(k) * d;
    case CovarianceType::Spherical: return k;
  }
  return 0;
}

void MixtureParams::validate() const {
  if (n_components < 1 || n_features < 1)
    throw std::invalid_argument("a mixture needs at least one component and one feature");
  if ((log_weights.empty() ? weights.size() : log_weights.size()) != std::size_t(n_components) ||
      means.size() != std::size_t(n_components) * n_features ||
      std::int64_t(prec_chol.size()) != prec_chol_size(type, n_components, n_features))
    throw std::invalid_argument("mixture parameters have inconsistent sizes");
  check_finite(weights, "weights");
  check_finite(log_weights, "log-weights");
  check_finite(means, "means");
  check_finite(prec_chol, "precision Cholesky factors");
  for (double w : weights) {
    if (w <= 0) throw std::invalid_argument("mixture weights must be positive");
  }
}

SufficientStats::SufficientStats(CovarianceType type_, int k, int d, std::vector<double> shift_)
    : type(type_),
      n_components(k),
      n_features(d),
      shift(std::move(shift_)),
      nk(std::size_t(k), 0.0),
      s1(std::size_t(k) * d, 0.0),
      s2(static_cast<std::size_t>(s2_size(type_, k, d)), 0.0) {
  if (shift.size() != std::size_t(k) * d) throw std::invalid_argument("shift must have k*d values");
}

std::vector<double> SufficientStats::tied_center() const {
  std::vector<double> c(std::size_t(n_features), 0.0);
  for (int k = 0; k < n_components; ++k)
    for (int j = 0; j < n_features; ++j) c[j] += shift[std::size_t(k) * n_features + j];
  for (double& v : c) v /= n_components;
  return c;
}

void SufficientStats::merge(const SufficientStats& o) {
  if (o.type != type || o.n_components != n_components || o.n_features != n_features || o.shift != shift)
    throw std::invalid_argument("statistics to merge must share covariance type, sizes and shift");
  sum_weight += o.sum_weight;
  log_likelihood += o.log_likelihood;
  resp_entropy += o.resp_entropy;
  for (std::size_t i = 0; i < nk.size(); ++i) nk[i] += o.nk[i];
  for (std::size_t i = 0; i < s1.size(); ++i) s1[i] += o.s1[i];
  for (std::size_t i = 0; i < s2.size(); ++i) s2[i] += o.s2[i];
}

void SufficientStats::scale(double factor) {
  sum_weight *= factor;
  log_likelihood *= factor;
  resp_entropy *= factor;
  for (double& v : nk) v *= factor;
  for (double& v : s1) v *= factor;
  for (double& v : s2) v *= factor;
}

// x - b = (x - a) + delta with delta = a - b: the moments around b follow from those around a.
SufficientStats SufficientStats::shifted(const std::vector<double>& new_shift) const {
  SufficientStats out(type, n_components, n_features, new_shift);
  const int k = n_components, d = n_features;
  out.sum_weight = sum_weight;
  out.log_likelihood = log_likelihood;
  out.resp_entropy = resp_entropy;
  out.nk = nk;
  std::vector<double> delta(shift.size());
  for (std::size_t i = 0; i < shift.size(); ++i) delta[i] = shift[i] - new_shift[i];
  for (int c = 0; c < k; ++c)
    for (int j = 0; j < d; ++j) {
      const std::size_t i = std::size_t(c) * d + j;
      out.s1[i] = s1[i] + nk[c] * delta[i];
    }
  if (type == CovarianceType::Full) {
    for (int c = 0; c < k; ++c) {
      const double* s = s1.data() + std::size_t(c) * d;
      const double* e = delta.data() + std::size_t(c) * d;
      for (int a = 0; a < d; ++a)
        for (int b = 0; b <= a; ++b) {  // second moments keep their lower triangle only
          const std::size_t i = (std::size_t(c) * d + a) * d + b;
          out.s2[i] = s2[i] + s[a] * e[b] + e[a] * s[b] + nk[c] * e[a] * e[b];
        }
    }
  } else if (type == CovarianceType::Tied) {
    // One center for all rows: its first moment is sum_k s1_k + nk_k (shift_k - c).
    const std::vector<double> c_old = tied_center(), c_new = out.tied_center();
    std::vector<double> m(static_cast<std::size_t>(d), 0.0), e(static_cast<std::size_t>(d));
    double total = 0;
    for (int c = 0; c < k; ++c) {
      total += nk[c];
      for (int j = 0; j < d; ++j) {
        const std::size_t i = std::size_t(c) * d + j;
        m[j] += s1[i] + nk[c] * (shift[i] - c_old[j]);
      }
    }
    for (int j = 0; j < d; ++j) e[j] = c_old[j] - c_new[j];
    for (int a = 0; a < d; ++a)
      for (int b = 0; b <= a; ++b) {
        const std::size_t i = std::size_t(a) * d + b;
        out.s2[i] = s2[i] + m[a] * e[b] + e[a] * m[b] + total * e[a] * e[b];
      }
  } else {
    for (int c = 0; c < k; ++c)
      for (int j = 0; j < d; ++j) {
        const std::size_t i = std::size_t(c) * d + j;
        out.s2[i] = s2[i] + 2 * delta[i] * s1[i] + nk[c] * delta[i] * delta[i];
      }
  }
  return out;
}

template <class T>
SufficientStats e_step_stats(const T* X, const double* sw, std::int64_t n, const MixtureParams& params, int n_threads) {
  SufficientStats total(params.type, params.n_components, params.n_features, params.means);
  e_step_accumulate(X, sw, n, params, n_threads, total);
  return total;
}

// Buffers of one thread, reused across the blocks of a pass (allocating them per block
// cost page faults: large buffers are mapped afresh each time).
template <class T>
struct EStepWorkspace {
  std::vector<typename detail::Simd<T>::V> XT, Y;
  std::vector<detail::Simd<double>::V> XD;  // float32 rows again in float64, for the statistics
  ColArr L;
  Eigen::ArrayXd lse, h;
  std::vector<detail::Lost> lost;
  detail::MomentSums sums;
};

template <class T>
void e_step_accumulate(const T* X, const double* sw, std::int64_t n, const MixtureParams& params, int n_threads,
                       SufficientStats& into, bool entropy) {
  const detail::TileKernel<T> kernel(params);
  const int k = kernel.k(), d = kernel.d();
  if (into.type != params.type || into.n_components != k || into.n_features != d || into.shift != params.means)
    throw std::invalid_argument("the statistics to add to must be around the means of the same mixture");
  const std::int64_t tile = kernel.tile_rows();
  std::vector<EStepWorkspace<T>> spaces(static_cast<std::size_t>(resolve_threads(n_threads)));
  run_blocks(into, n, n_threads, [&](std::int64_t r0, std::int64_t r1, SufficientStats& st) {
    EStepWorkspace<T>& ws = spaces.at(static_cast<std::size_t>(scalegen::detail::current_thread_num()));
    ws.sums.reset(st, kernel.center());
    // Per tile (sized for L2): densities, responsibilities, then their moments from the
    // same rows in lanes.
    for (std::int64_t i0 = r0; i0 < r1; i0 += tile) {
      const std::int64_t t = std::min(tile, r1 - i0);
      detail::Lanes lanes = kernel.log_prob(X + i0 * d, t, ws.XT, ws.Y, ws.L, ws.lost);
      detail::log_sum_exp_rows(ws.L, ws.lse, true, ws.lost, entropy ? &ws.h : nullptr);
      if (entropy) {
        if (sw != nullptr) {
          for (std::int64_t i = 0; i < t; ++i) st.resp_entropy += sw[i0 + i] * ws.h[i];
        } else {
          st.resp_entropy += ws.h.sum();
        }
      }
      if (sw != nullptr) {
        Eigen::Map<const Eigen::ArrayXd> w(sw + i0, t);
        ws.L.colwise() *= w;
        // Plain loops: Eigen's sums of a user's buffer depend on its alignment.
        double sum_w = 0, sum_wl = 0;
        for (std::int64_t i = 0; i < t; ++i) {
          sum_w += sw[i0 + i];
          if (sw[i0 + i] != 0) sum_wl += sw[i0 + i] * ws.lse[i];  // a weightless row counts for nothing, even at -inf
        }
        st.sum_weight += sum_w;
        st.log_likelihood += sum_wl;
      } else {
        st.sum_weight += double(t);
        st.log_likelihood += ws.lse.sum();
      }
      const detail::Simd<double>::V* rows = nullptr;
      if constexpr (std::is_same_v<T, double>) {
        rows = ws.XT.data();
      } else {  // the statistics need the rows in float64
        lanes.nb = detail::padded_rows<double>(t) / detail::Simd<double>::W;
        lanes.stride = lanes.nb | 1;
        ws.XD.resize(std::size_t(kernel.lane_features()) * lanes.stride);
        detail::rows_to_lanes<T, double>(X + i0 * d, t, d, kernel.center().data(), kernel.lane_features(), lanes.nb,
                                         lanes.stride, ws.XD.data());
        rows = ws.XD.data();
      }
      ws.sums.add(rows, lanes.stride, lanes.nb, ws.L, sw ? sw + i0 : nullptr);
    }
    ws.sums.flush(st);
  });
}

template <class T>
void resp_accumulate(const T* X, const double* resp, const std::int32_t* labels, const double* sw, std::int64_t n,
                     int n_threads, SufficientStats& into) {
  const int k = into.n_components, d = into.n_features;
  if ((resp == nullptr) == (labels == nullptr)) throw std::invalid_argument("give either resp or labels");
  for (std::int64_t i = 0; labels != nullptr && i < n; ++i) {
    if (labels[i] >= k) throw std::invalid_argument("labels must be below n_components");
  }
  struct Workspace {  // per thread, reused across blocks (as in e_step_accumulate)
    ColArr R;
    Eigen::ArrayXd rw;
    detail::MomentSums sums;
    std::vector<detail::Simd<double>::V> XT;
  };
  std::vector<Workspace> spaces(static_cast<std::size_t>(resolve_threads(n_threads)));
  run_blocks(into, n, n_threads, [&](std::int64_t r0, std::int64_t r1, SufficientStats& st) {
    Workspace& ws = spaces.at(static_cast<std::size_t>(scalegen::detail::current_thread_num()));
    const std::int64_t t = r1 - r0;
    ColArr& R = ws.R;
    if (resp != nullptr) {
      R = Eigen::Map<const RowArr<double>>(resp + r0 * k, t, k);
    } else {
      R.setZero(t, k);
      for (std::int64_t i = 0; i < t; ++i) {
        if (labels[r0 + i] >= 0) R(i, labels[r0 + i]) = 1.0;
      }
    }
    // A row's weight counts for the components it belongs to: sum_k r_ik.
    Eigen::ArrayXd& rw = ws.rw;
    rw = R.rowwise().sum();
    if (sw != nullptr) {
      Eigen::Map<const Eigen::ArrayXd> w(sw + r0, t);
      R.colwise() *= w;
      rw *= w;
    }
    st.sum_weight += rw.sum();
    detail::accumulate(X + r0 * d, t, R, rw.data(), st, ws.sums, ws.XT);
  });
}

std::vector<double> precision_cholesky(CovarianceType type, int k, int d, const std::vector<double>& cov) {
  std::vector<double> out(static_cast<std::size_t>(prec_chol_size(type, k, d)));
  if (type == CovarianceType::Full || type == CovarianceType::Tied) {
    const int n_mat = type == CovarianceType::Full ? k : 1;
    for (int c = 0; c < n_mat; ++c) {
      Eigen::Map<const RowMat<double>> C(cov.data() + std::int64_t(c) * d * d, d, d);
      Eigen::LLT<Eigen::MatrixXd> llt(C);
      if (llt.info() != Eigen::Success || !(llt.matrixL().toDenseMatrix().diagonal().array() > 0).all())
        throw std::invalid_argument(kIllDefinedCovariance);
      const Eigen::MatrixXd Linv = llt.matrixL().solve(Eigen::MatrixXd::Identity(d, d));
      Eigen::Map<RowMat<double>>(out.data() + std::int64_t(c) * d * d, d, d) = Linv.transpose();
    }
  } else {
    for (std::size_t i = 0; i < cov.size(); ++i) {
      if (!(cov[i] > 0) || !std::isfinite(cov[i])) throw std::invalid_argument(kIllDefinedCovariance);
      out[i] = 1.0 / std::sqrt(cov[i]);
    }
  }
  return out;
}

MStepResult m_step(const SufficientStats& st, double reg_covar, double resp_eps) {
  const int k = st.n_components, d = st.n_features;
  MStepResult res;
  MixtureParams& p = res.params;
  p.type = st.type;
  p.n_components = k;
  p.n_features = d;
  p.weights.resize(k);
  p.means.resize(std::size_t(k) * d);
  std::vector<double> nkp(k);
  double total = 0;
  for (int c = 0; c < k; ++c) total += (nkp[c] = st.nk[c] + resp_eps);
  for (int c = 0; c < k; ++c) p.weights[c] = nkp[c] / total;
  // delta_k = mean_k - shift_k
  RowMat<double> delta(k, d);
  for (int c = 0; c < k; ++c)
    for (int j = 0; j < d; ++j) {
      delta(c, j) = st.s1[std::size_t(c) * d + j] / nkp[c];
      p.means[std::size_t(c) * d + j] = st.shift[std::size_t(c) * d + j] + delta(c, j);
    }
  std::vector<double>& cov = res.covariances;
  switch (st.type) {
    case CovarianceType::Full: {
      cov.resize(std::size_t(k) * d * d);
      for (int c = 0; c < k; ++c) {
        Eigen::Map<const RowMat<double>> s2(st.s2.data() + std::int64_t(c) * d * d, d, d);
        Eigen::Map<const Eigen::VectorXd> s1(st.s1.data() + std::int64_t(c) * d, d);
        const Eigen::VectorXd dl = delta.row(c).transpose();
        Eigen::MatrixXd S = s2.selfadjointView<Eigen::Lower>();
        S -= s1 * dl.transpose() + dl * s1.transpose();
        S += st.nk[c] * dl * dl.transpose();
        S /= nkp[c];
        S.diagonal().array() += reg_covar;
        Eigen::Map<RowMat<double>>(cov.data() + std::int64_t(c) * d * d, d, d) = S;
      }
      break;
    }
    case CovarianceType::Tied: {
      const std::vector<double> center = st.tied_center();
      Eigen::Map<const RowMat<double>> s2(st.s2.data(), d, d);
      Eigen::MatrixXd S = s2.selfadjointView<Eigen::Lower>();
      for (int c = 0; c < k; ++c) {
        Eigen::VectorXd e(d);
        for (int j = 0; j < d; ++j) e[j] = p.means[std::size_t(c) * d + j] - center[j];
        S -= nkp[c] * e * e.transpose();
      }
      S /= total;
      S.diagonal().array() += reg_covar;
      cov.assign(S.data(), S.data() + std::int64_t(d) * d);  // symmetric: layout does not matter
      break;
    }
    case CovarianceType::Diag:
    case CovarianceType::Spherical: {
      std::vector<double> var(std::size_t(k) * d);
      for (int c = 0; c < k; ++c)
        for (int j = 0; j < d; ++j) {
          const std::size_t i = std::size_t(c) * d + j;
          const double dl = delta(c, j);
          var[i] = (st.s2[i] - 2 * dl * st.s1[i] + st.nk[c] * dl * dl) / nkp[c] + reg_covar;
        }
      if (st.type == CovarianceType::Diag) {
        cov = std::move(var);
      } else {
        cov.assign(std::size_t(k), 0.0);
        for (int c = 0; c < k; ++c) {
          for (int j = 0; j < d; ++j) cov[c] += var[std::size_t(c) * d + j];
          cov[c] /= d;
        }
      }
      break;
    }
  }
  p.prec_chol = precision_cholesky(st.type, k, d, cov);
  return res;
}

template <class T>
void log_prob_norm(const T* X, std::int64_t n, const MixtureParams& params, T* log_norm, T* log_resp, int n_threads) {
  const detail::TileKernel<T> kernel(params);
  const int k = kernel.k(), d = kernel.d();
  const std::int64_t tile = kernel.tile_rows();
  // Blocks of tiles share one set of buffers (large ones would be mmap'ed afresh per tile).
  const std::int64_t block = tile * 16;
  parallel_for(n_threads, (n + block - 1) / block, [&](std::int64_t bi) {
    std::vector<typename detail::Simd<T>::V> XT, Y;
    ColArr L, logL;
    Eigen::ArrayXd lse;
    std::vector<detail::Lost> lost;
    for (std::int64_t i0 = bi * block, end = std::min(n, i0 + block); i0 < end; i0 += tile) {
      const std::int64_t t = std::min(tile, end - i0);
      kernel.log_prob(X + i0 * d, t, XT, Y, L, lost);
      if (log_resp != nullptr) logL = L;
      detail::log_sum_exp_rows(L, lse, false, lost);
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(log_norm + i0, t) = lse.cast<T>();
      if (log_resp == nullptr) continue;
      // (L - max) - log(sum exp(L - max)), with L now holding exp(L - max): subtracting lse
      // itself would lose log(sum) against a huge |max|. In double, then rounded: in T, a
      // log-density past T's range minus its log-sum-exp would be inf - inf.
      logL.colwise() -= logL.rowwise().maxCoeff().eval();
      logL.colwise() -= L.rowwise().sum().log().eval();
      for (const detail::Lost& r : lost) {  // all -inf: the nearest component takes the row
        logL.row(r.row).setConstant(-HUGE_VAL);
        logL(r.row, r.nearest) = 0.0;
      }
      Eigen::Map<RowArr<T>>(log_resp + i0 * k, t, k) = logL.template cast<T>();
    }
  });
}

#define SCALEGEN_INSTANTIATE(T)                                                                                    \
  template SufficientStats e_step_stats<T>(const T*, const double*, std::int64_t, const MixtureParams&, int);      \
  template void e_step_accumulate<T>(const T*, const double*, std::int64_t, const MixtureParams&, int,             \
                                     SufficientStats&, bool);                                                      \
  template void resp_accumulate<T>(const T*, const double*, const std::int32_t*, const double*, std::int64_t, int, \
                                   SufficientStats&);                                                              \
  template void log_prob_norm<T>(const T*, std::int64_t, const MixtureParams&, T*, T*, int);
SCALEGEN_INSTANTIATE(float)
SCALEGEN_INSTANTIATE(double)
#undef SCALEGEN_INSTANTIATE

}  // namespace scalegen::mixture
