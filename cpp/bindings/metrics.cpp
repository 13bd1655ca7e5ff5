#include <pybind11/stl.h>

#include "bindings.hpp"
#include "scalegen/metrics/pairwise.hpp"

namespace scalegen::bindings {
namespace {

using namespace scalegen::metrics;

PairFunction parse_pair_function(const std::string& name) {
  if (name == "rbf") return PairFunction::rbf;
  if (name == "laplacian") return PairFunction::laplacian;
  if (name == "distance") return PairFunction::distance;
  throw std::invalid_argument("unknown pair function '" + name + "'");
}

template <class T>
int check_pair(const CArray<T>& X, const CArray<T>& Y) {
  if (X.ndim() != 2 || Y.ndim() != 2 || X.shape(1) != Y.shape(1) || X.shape(1) < 1)
    throw std::invalid_argument("the two samples must be 2-D with the same number of columns");
  return int(X.shape(1));
}

// The two samples centred on their pooled mean, packed one after the other (X first).
struct PooledSample {
  PackedRows rows;
  std::int64_t m = 0;
};

template <class T>
PooledSample make_pooled(const CArray<T>& X, const CArray<T>& Y, int n_threads) {
  const int d = check_pair(X, Y);
  const std::int64_t m = X.shape(0), n = Y.shape(0);
  py::gil_scoped_release release;
  const auto center = pooled_mean<T>(X.data(), m, Y.data(), n, d);
  return {pack_rows<T>(X.data(), m, Y.data(), n, d, center, n_threads), m};
}

template <class T>
void bind_for(py::module_& m) {
  m.def(
      "metrics_pooled_sample",
      [](const CArray<T>& X, const CArray<T>& Y, int n_threads) { return make_pooled<T>(X, Y, n_threads); },
      py::arg("X"), py::arg("Y"), py::arg("n_threads"),
      "X and Y centred on their pooled mean, as float64, for the kernel sums.");
  m.def(
      "metrics_neighbours",
      [](const CArray<T>& Q, const CArray<T>& R, int k, int n_threads) {
        const int d = check_pair(Q, R);
        Neighbours nb;
        {
          py::gil_scoped_release release;
          const auto center = pooled_mean<T>(R.data(), R.shape(0), nullptr, 0, d);
          const PackedRows q = pack_rows<T>(Q.data(), Q.shape(0), nullptr, 0, d, center, n_threads);
          const PackedRows r = pack_rows<T>(R.data(), R.shape(0), nullptr, 0, d, center, n_threads);
          nb = nearest_neighbours(q, r, k, false, n_threads);
        }
        return py::make_tuple(to_numpy(nb.dist2, {Q.shape(0), k}), to_numpy(nb.index, {Q.shape(0), k}));
      },
      py::arg("Q"), py::arg("R"), py::arg("k"), py::arg("n_threads"),
      "The k nearest rows of R to each row of Q: (squared distances ascending, indices).");
  m.def(
      "metrics_manifold",
      [](const CArray<T>& real, const CArray<T>& fake, int k, int n_threads) {
        const int d = check_pair(real, fake);
        std::vector<double> real_r2, fake_r2;
        ManifoldCounts c;
        {
          py::gil_scoped_release release;
          const auto center = pooled_mean<T>(real.data(), real.shape(0), fake.data(), fake.shape(0), d);
          const PackedRows r = pack_rows<T>(real.data(), real.shape(0), nullptr, 0, d, center, n_threads);
          const PackedRows f = pack_rows<T>(fake.data(), fake.shape(0), nullptr, 0, d, center, n_threads);
          const auto kth = [&](const PackedRows& p) {
            const Neighbours nb = nearest_neighbours(p, p, k, true, n_threads);
            std::vector<double> r2(std::size_t(p.n));
            for (std::int64_t i = 0; i < p.n; ++i) r2[i] = nb.dist2[i * k + k - 1];
            return r2;
          };
          real_r2 = kth(r);
          fake_r2 = kth(f);
          c = manifold_counts(r, f, real_r2, fake_r2, n_threads);
        }
        return py::make_tuple(to_numpy(real_r2, {real.shape(0)}), to_numpy(fake_r2, {fake.shape(0)}),
                              to_numpy(c.fake_in_real_balls, {fake.shape(0)}),
                              to_numpy(c.real_in_fake_balls, {real.shape(0)}),
                              to_numpy(c.real_ball_hit, {real.shape(0)}));
      },
      py::arg("real"), py::arg("fake"), py::arg("k"), py::arg("n_threads"),
      "k-NN manifold counts: (real squared radii, fake squared radii, real balls holding each fake row, "
      "real rows inside some fake ball, real balls holding some fake row).");
}

}  // namespace

void bind_metrics(py::module_& m) {
  py::class_<PooledSample>(m, "MetricsPooledSample", "Two samples centred and packed for the kernel sums.")
      .def_property_readonly("n_rows", [](const PooledSample& s) { return s.rows.n; })
      .def_property_readonly("n_first", [](const PooledSample& s) { return s.m; })
      .def(
          "pair_sums",
          [](const PooledSample& s, const std::string& f, const std::vector<double>& scales, int n_threads) {
            const PairFunction pf = parse_pair_function(f);
            py::gil_scoped_release release;
            const PooledSums r = pooled_pair_sums(s.rows, s.m, pf, scales, n_threads);
            return std::tuple{r.xx, r.yy, r.xy};
          },
          py::arg("function"), py::arg("scales"), py::arg("n_threads"),
          "Sums of f over pairs i < j within X, within Y, and over all (x, y) pairs.")
      .def(
          "row_sums",
          [](const PooledSample& s, const std::string& f, const std::vector<double>& scales, int n_threads) {
            const PairFunction pf = parse_pair_function(f);
            std::vector<double> r;
            {
              py::gil_scoped_release release;
              r = kernel_row_sums(s.rows, pf, scales, n_threads);
            }
            return to_numpy(r, {s.rows.n});
          },
          py::arg("function"), py::arg("scales"), py::arg("n_threads"),
          "Row sums of the pooled kernel matrix without its diagonal.")
      .def(
          "quadratic_forms",
          [](const PooledSample& s, const CArray<std::uint8_t>& labels, const std::string& f,
             const std::vector<double>& scales, int n_threads) {
            if (labels.ndim() != 2 || labels.shape(1) != s.rows.n)
              throw std::invalid_argument("labels must be (labellings, rows of the pooled sample)");
            const PairFunction pf = parse_pair_function(f);
            std::vector<double> q;
            {
              py::gil_scoped_release release;
              q = kernel_quadratic_forms(s.rows, pf, scales, labels.data(), labels.shape(0), n_threads);
            }
            return to_numpy(q, {labels.shape(0)});
          },
          py::arg("labels"), py::arg("function"), py::arg("scales"), py::arg("n_threads"),
          "s' K0 s for each labelling s (a row of 0/1 labels), K0 the kernel matrix without its diagonal.");
  bind_for<float>(m);
  bind_for<double>(m);
}

}  // namespace scalegen::bindings
