#include <pybind11/stl.h>

#include "bindings.hpp"
#include "scalegen/mixture/gaussian_mixture.hpp"
#include "scalegen/mixture/kmeans.hpp"

namespace scalegen::bindings {
namespace {

using namespace scalegen::mixture;

std::string type_name(CovarianceType t) {
  switch (t) {
    case CovarianceType::Full: return "full";
    case CovarianceType::Tied: return "tied";
    case CovarianceType::Diag: return "diag";
    case CovarianceType::Spherical: return "spherical";
  }
  return "";
}

using OptArray = std::optional<CArray<double>>;

// Exactly one of weights and log_weights is given.
MixtureParams make_params(const std::string& type, const OptArray& weights, const CArray<double>& means,
                          const CArray<double>& prec_chol, const OptArray& log_weights) {
  if (means.ndim() != 2) throw std::invalid_argument("means must be 2-D (n_components, n_features)");
  if (weights.has_value() == log_weights.has_value()) throw std::invalid_argument("give weights or log_weights");
  MixtureParams p;
  p.type = parse_covariance_type(type);
  p.n_components = int(means.shape(0));
  p.n_features = int(means.shape(1));
  if (weights) p.weights = to_vector(*weights);
  if (log_weights) p.log_weights = to_vector(*log_weights);
  p.means = to_vector(means);
  p.prec_chol = to_vector(prec_chol);
  p.validate();
  return p;
}

template <class T>
std::pair<const T*, std::int64_t> rows(const CArray<T>& X, int d) {
  if (X.ndim() != 2 || X.shape(1) != d)
    throw std::invalid_argument("X must be 2-D with " + std::to_string(d) + " columns");
  return {X.data(), X.shape(0)};
}

const double* weights_ptr(const std::optional<CArray<double>>& w, std::int64_t n) {
  if (!w) return nullptr;
  if (w->ndim() != 1 || w->shape(0) != n) throw std::invalid_argument("sample_weight must have one value per row");
  return w->data();
}

// The statistics a pass adds to: `into` when given (it must be around `shift`), else new zeros.
SufficientStats* target(std::optional<SufficientStats*> into, std::optional<SufficientStats>& fresh,
                        CovarianceType type, int k, int d, std::vector<double> shift) {
  if (into && *into != nullptr) {
    SufficientStats* s = *into;
    if (s->type != type || s->n_components != k || s->n_features != d || s->shift != shift)
      throw std::invalid_argument("`into` must be statistics of the same covariance type and sizes, around the same shift");
    return s;
  }
  fresh.emplace(type, k, d, std::move(shift));
  return &*fresh;
}

// Returns `into` itself when given, else the new statistics.
py::object result(std::optional<SufficientStats>& fresh, const py::object& into) {
  return fresh ? py::cast(std::move(*fresh)) : into;
}

template <class T>
void bind_typed(py::module_& m) {
  m.def(
      "gmm_e_step",
      [](const CArray<T>& X, const OptArray& sw, const std::string& type, const OptArray& weights,
         const CArray<double>& means, const CArray<double>& prec_chol, int n_threads, const py::object& into,
         const OptArray& log_weights, bool entropy) {
        const MixtureParams p = make_params(type, weights, means, prec_chol, log_weights);
        const auto [x, n] = rows(X, p.n_features);
        const double* w = weights_ptr(sw, n);
        std::optional<SufficientStats> fresh;
        SufficientStats* st = target(into.cast<std::optional<SufficientStats*>>(), fresh, p.type, p.n_components,
                                     p.n_features, p.means);
        {
          py::gil_scoped_release release;
          e_step_accumulate<T>(x, w, n, p, n_threads, *st, entropy);
        }
        return result(fresh, into);
      },
      py::arg("X"), py::arg("sample_weight"), py::arg("covariance_type"), py::arg("weights"),
      py::arg("means"), py::arg("prec_chol"), py::arg("n_threads"), py::arg("into") = py::none(),
      py::arg("log_weights") = py::none(), py::arg("entropy") = false,
      "Fused E-step: log-likelihood and responsibility-weighted statistics around the means, added to "
      "`into` when given (and returned). log_weights (weights=None) are used as given; with entropy, "
      "sum w r log r is accumulated too.");
  m.def(
      "gmm_resp_stats",
      [](const CArray<T>& X, const CArray<double>& resp, const std::optional<CArray<double>>& sw,
         const std::string& type, const CArray<double>& shift, int n_threads, const py::object& into) {
        if (resp.ndim() != 2 || X.ndim() != 2 || resp.shape(0) != X.shape(0))
          throw std::invalid_argument("resp must be (n_samples, n_components)");
        const int k = int(resp.shape(1)), d = int(X.shape(1));
        if (shift.size() != py::ssize_t(k) * d) throw std::invalid_argument("shift must be (n_components, n_features)");
        const double* w = weights_ptr(sw, X.shape(0));
        std::optional<SufficientStats> fresh;
        SufficientStats* st = target(into.cast<std::optional<SufficientStats*>>(), fresh, parse_covariance_type(type),
                                     k, d, to_vector(shift));
        {
          py::gil_scoped_release release;
          resp_accumulate<T>(X.data(), resp.data(), nullptr, w, X.shape(0), n_threads, *st);
        }
        return result(fresh, into);
      },
      py::arg("X"), py::arg("resp"), py::arg("sample_weight"), py::arg("covariance_type"), py::arg("shift"),
      py::arg("n_threads"), py::arg("into") = py::none(),
      "Statistics of rows with given responsibilities, around shift (added to `into` when given).");
  m.def(
      "gmm_label_stats",
      [](const CArray<T>& X, const CArray<std::int32_t>& labels, const std::optional<CArray<double>>& sw,
         const std::string& type, const CArray<double>& shift, int n_threads, const py::object& into) {
        if (labels.ndim() != 1 || X.ndim() != 2 || labels.shape(0) != X.shape(0))
          throw std::invalid_argument("labels must have one value per row of X");
        if (shift.ndim() != 2 || shift.shape(1) != X.shape(1))
          throw std::invalid_argument("shift must be (n_components, n_features)");
        const int k = int(shift.shape(0)), d = int(X.shape(1));
        const double* w = weights_ptr(sw, X.shape(0));
        std::optional<SufficientStats> fresh;
        SufficientStats* st = target(into.cast<std::optional<SufficientStats*>>(), fresh, parse_covariance_type(type),
                                     k, d, to_vector(shift));
        {
          py::gil_scoped_release release;
          resp_accumulate<T>(X.data(), nullptr, labels.data(), w, X.shape(0), n_threads, *st);
        }
        return result(fresh, into);
      },
      py::arg("X"), py::arg("labels"), py::arg("sample_weight"), py::arg("covariance_type"), py::arg("shift"),
      py::arg("n_threads"), py::arg("into") = py::none(),
      "Statistics of rows with hard labels (negative: left out), around shift (added to `into` when given).");
  m.def(
      "gmm_log_prob_norm",
      [](const CArray<T>& X, const std::string& type, const OptArray& weights, const CArray<double>& means,
         const CArray<double>& prec_chol, int n_threads, bool with_resp, const OptArray& log_weights) {
        const MixtureParams p = make_params(type, weights, means, prec_chol, log_weights);
        const auto [x, n] = rows(X, p.n_features);
        py::array_t<T> log_norm(n);
        py::object log_resp = py::none();
        T* resp_ptr = nullptr;
        if (with_resp) {
          py::array_t<T> r({py::ssize_t(n), py::ssize_t(p.n_components)});
          resp_ptr = r.mutable_data();
          log_resp = r;
        }
        T* norm_ptr = log_norm.mutable_data();
        {
          py::gil_scoped_release release;
          log_prob_norm<T>(x, n, p, norm_ptr, resp_ptr, n_threads);
        }
        return py::make_tuple(log_norm, log_resp);
      },
      py::arg("X"), py::arg("covariance_type"), py::arg("weights"), py::arg("means"), py::arg("prec_chol"),
      py::arg("n_threads"), py::arg("with_resp"), py::arg("log_weights") = py::none(),
      "Per-row log p(x) and, optionally, log responsibilities (log_weights used as given when weights=None).");
  m.def(
      "kmeans_plusplus",
      [](const CArray<T>& X, const std::optional<CArray<double>>& sw, int k, std::uint64_t seed, int n_threads) {
        if (X.ndim() != 2) throw std::invalid_argument("X must be 2-D");
        const double* w = weights_ptr(sw, X.shape(0));
        py::gil_scoped_release release;
        return kmeans_plusplus<T>(X.data(), w, X.shape(0), int(X.shape(1)), k, seed, n_threads);
      },
      py::arg("X"), py::arg("sample_weight"), py::arg("n_clusters"), py::arg("seed"), py::arg("n_threads"),
      "Greedy k-means++ seeding: indices of the chosen rows.");
  m.def(
      "kmeans_lloyd",
      [](const CArray<T>& X, const std::optional<CArray<double>>& sw, const CArray<double>& centers, int max_iter,
         double tol, int n_threads) {
        if (X.ndim() != 2 || centers.ndim() != 2 || centers.shape(1) != X.shape(1))
          throw std::invalid_argument("X and centers must be 2-D with the same number of columns");
        const double* w = weights_ptr(sw, X.shape(0));
        std::vector<double> c = to_vector(centers);
        KMeansResult r;
        {
          py::gil_scoped_release release;
          r = kmeans_lloyd<T>(X.data(), w, X.shape(0), int(X.shape(1)), c, max_iter, tol, n_threads);
        }
        return py::make_tuple(to_numpy(r.centers, {centers.shape(0), centers.shape(1)}),
                              to_numpy(r.labels, {X.shape(0)}), r.inertia, r.n_iter);
      },
      py::arg("X"), py::arg("sample_weight"), py::arg("centers"), py::arg("max_iter"), py::arg("tol"),
      py::arg("n_threads"), "Lloyd's k-means: (centers, labels, inertia, n_iter).");
}

py::tuple stats_state(const SufficientStats& s) {
  return py::make_tuple(type_name(s.type), s.n_components, s.n_features, s.sum_weight, s.log_likelihood,
                        s.shift, s.nk, s.s1, s.s2, s.resp_entropy);
}

SufficientStats stats_from_state(const py::tuple& t) {
  if (t.size() != 10) throw std::invalid_argument("invalid GaussianMixture statistics state");
  SufficientStats s(parse_covariance_type(t[0].cast<std::string>()), t[1].cast<int>(), t[2].cast<int>(),
                    t[5].cast<std::vector<double>>());
  s.sum_weight = t[3].cast<double>();
  s.log_likelihood = t[4].cast<double>();
  s.resp_entropy = t[9].cast<double>();
  auto fill = [](std::vector<double>& dst, const py::handle& src) {
    auto v = src.cast<std::vector<double>>();
    if (v.size() != dst.size()) throw std::invalid_argument("invalid GaussianMixture statistics state");
    dst = std::move(v);
  };
  fill(s.nk, t[6]);
  fill(s.s1, t[7]);
  fill(s.s2, t[8]);
  return s;
}

}  // namespace

void bind_mixture(py::module_& m) {
  m.attr("gmm_block_rows") = kStatsBlockRows;
  py::class_<SufficientStats>(m, "GaussianMixtureStats", py::module_local(),
                              "Additive E-step statistics of a set of rows (merge chunks with +=).")
      .def_property_readonly("covariance_type", [](const SufficientStats& s) { return type_name(s.type); })
      .def_readonly("n_components", &SufficientStats::n_components)
      .def_readonly("n_features", &SufficientStats::n_features)
      .def_readonly("sum_weight", &SufficientStats::sum_weight)
      .def_readonly("log_likelihood", &SufficientStats::log_likelihood)
      .def_readonly("resp_entropy", &SufficientStats::resp_entropy)
      .def_property_readonly("nk", [](const SufficientStats& s) { return to_numpy(s.nk, {s.n_components}); })
      .def_property_readonly("s1", [](const SufficientStats& s) { return to_numpy(s.s1, {s.n_components, s.n_features}); })
      .def_property_readonly("shift",
                             [](const SufficientStats& s) { return to_numpy(s.shift, {s.n_components, s.n_features}); })
      // full and tied: the lower triangles only
      .def_property_readonly("s2",
                             [](const SufficientStats& s) {
                               const py::ssize_t k = s.n_components, d = s.n_features;
                               if (s.type == CovarianceType::Full) return to_numpy(s.s2, {k, d, d});
                               if (s.type == CovarianceType::Tied) return to_numpy(s.s2, {d, d});
                               return to_numpy(s.s2, {k, d});
                             })
      .def("merge", &SufficientStats::merge, py::arg("other"), "Adds the statistics of other rows.")
      .def("scale", &SufficientStats::scale, py::arg("factor"), "Multiplies every statistic by factor.")
      .def(
          "shifted",
          [](const SufficientStats& s, const CArray<double>& shift) {
            if (shift.size() != py::ssize_t(s.n_components) * s.n_features)
              throw std::invalid_argument("shift must be (n_components, n_features)");
            return s.shifted(to_vector(shift));
          },
          py::arg("shift"), "The same statistics around another shift (n_components, n_features).")
      .def("copy", [](const SufficientStats& s) { return s; }, "An independent copy.")
      .def("__iadd__", [](SufficientStats& s, const SufficientStats& o) -> SufficientStats& {
        s.merge(o);
        return s;
      })
      .def(py::pickle(&stats_state, &stats_from_state));

  m.def(
      "gmm_m_step",
      [](const SufficientStats& stats, double reg_covar, double resp_eps) {
        MStepResult r;
        {
          py::gil_scoped_release release;
          r = m_step(stats, reg_covar, resp_eps);
        }
        const py::ssize_t k = stats.n_components, d = stats.n_features;
        std::vector<py::ssize_t> cov_shape;
        switch (stats.type) {
          case CovarianceType::Full: cov_shape = {k, d, d}; break;
          case CovarianceType::Tied: cov_shape = {d, d}; break;
          case CovarianceType::Diag: cov_shape = {k, d}; break;
          case CovarianceType::Spherical: cov_shape = {k}; break;
        }
        return py::make_tuple(to_numpy(r.params.weights, {k}), to_numpy(r.params.means, {k, d}),
                              to_numpy(r.covariances, cov_shape), to_numpy(r.params.prec_chol, cov_shape));
      },
      py::arg("stats"), py::arg("reg_covar"), py::arg("resp_eps"),
      "M-step: (weights, means, covariances, precisions_cholesky) from statistics.");
  m.def(
      "gmm_precision_cholesky",
      [](const std::string& type, const CArray<double>& cov, int n_components, int n_features) {
        const CovarianceType t = parse_covariance_type(type);
        if (cov.size() != prec_chol_size(t, n_components, n_features))
          throw std::invalid_argument("covariances have the wrong size for this covariance_type");
        std::vector<double> c = to_vector(cov);
        std::vector<double> out;
        {
          py::gil_scoped_release release;
          out = precision_cholesky(t, n_components, n_features, c);
        }
        std::vector<py::ssize_t> shape(cov.shape(), cov.shape() + cov.ndim());
        return to_numpy(out, shape);
      },
      py::arg("covariance_type"), py::arg("covariances"), py::arg("n_components"), py::arg("n_features"),
      "Upper precision-Cholesky factors of covariances (scikit-learn's convention).");
  bind_typed<float>(m);
  bind_typed<double>(m);
}

}  // namespace scalegen::bindings
