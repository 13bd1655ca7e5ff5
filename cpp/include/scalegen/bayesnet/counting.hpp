#pragma once
/// Discrete Bayesian networks: family counting, structure-score terms, sampling and
/// per-row log-likelihoods over integer-coded columns.

#include <cstdint>
#include <string>
#include <vector>

namespace scalegen::bayesnet {

/// Integer-coded data, one contiguous column per variable. A negative code marks a
/// missing value. T is std::int8_t (up to 127 states) or std::int16_t.
template <class T>
struct Codes {
  std::vector<const T*> columns;
  std::int64_t n_rows = 0;
};

/// A variable and its parents, in the axis order of its table.
struct Family {
  int child = 0;
  std::vector<int> parents;
};

/// Shape of a family's table: (card(child), card(p1), ..., card(pk)) in C order, so the
/// flat index of (child state s, parent configuration j) is s * n_configs + j, with the
/// last parent varying fastest in j.
struct FamilyShape {
  std::int64_t card = 0;       ///< states of the child
  std::int64_t n_configs = 1;  ///< product of the parents' cards
  std::int64_t size() const { return card * n_configs; }
};

/// Computes the shape; throws std::invalid_argument for bad indices, cards < 1 or a
/// table too large to index in 62 bits.
FamilyShape family_shape(const Family& f, const std::vector<int>& cards);

/// Weighted counts of one family over the rows where the child and all parents are
/// observed. Dense (the whole table) while it is small; otherwise sparse: sorted keys
/// j * card + s (configuration-major) with their counts, zero cells left out.
/// Counts are exact integers without weights; chunks merge by addition.
struct FamilyCounts {
  FamilyShape shape;
  bool sparse = false;
  std::vector<double> dense;        ///< shape.size() cells (flat CPT index) when !sparse
  std::vector<std::uint64_t> keys;  ///< sparse: j * card + s, ascending
  std::vector<double> values;       ///< sparse: count of each key
  double total = 0;                 ///< weight of the rows counted

  /// Adds another chunk's counts of the same family (same shape).
  void merge(const FamilyCounts& other);
  /// Counts per parent configuration that was observed: (configuration, N_j) ascending.
  std::vector<std::pair<std::int64_t, double>> config_totals() const;
  /// Calls fn(j, s, n) for every nonzero cell (configuration j, child state s).
  template <class Fn>
  void for_each_nonzero(Fn&& fn) const;
  /// The dense table (materialises a sparse one).
  std::vector<double> to_dense() const;
};

/// Dense tables up to this many cells for n_rows of data: a table much larger than the
/// data would be mostly zeros.
std::int64_t default_dense_limit(std::int64_t n_rows);

/// Counts every family in one parallel pass. weights: one per row or nullptr.
/// Families with more than dense_limit cells (< 0: the default) are counted sparsely. Results do not
/// depend on n_threads (fixed row segments merged in a fixed order).
template <class T>
std::vector<FamilyCounts> count_families(const Codes<T>& codes, const std::vector<int>& cards,
                                         const std::vector<Family>& families, const double* weights,
                                         std::int64_t dense_limit, int n_threads);

/// Decomposable structure scores of one family.
enum class Score { LogLikelihood, BIC, AIC, K2, BDeu, BDs };
Score parse_score(const std::string& name);

/// A decomposable score of one family (card states, n_configs parent configurations) as
/// constant() + the sum of cell(N_jk) over nonzero cells + the sum of config(N_j) over
/// observed configurations; unobserved configurations contribute 0. n_samples is the
/// data size BIC's penalty uses, ess BDeu's and BDs' equivalent sample size.
/// BDs (Scutari 2016, as pgmpy computes it) spreads ess over the observed_configs
/// configurations seen in the data (at least 1), so it needs their number.
class ScoreTerms {
 public:
  ScoreTerms(Score score, double card, double n_configs, double n_samples, double ess, double observed_configs = 1);
  double constant() const { return constant_; }
  double cell(double n) const;
  double config(double nj) const;

 private:
  static double log_rising(double a, double lg_a, double n);
  Score score_;
  double card_, constant_ = 0, lg_card_ = 0, alpha_ = 0, beta_ = 0, lg_alpha_ = 0, lg_beta_ = 0;
};

/// The family's term of the score (see ScoreTerms).
double family_score(const FamilyCounts& counts, Score score, double n_samples, double equivalent_sample_size);

/// Ancestral sampling. families: one per variable, in a topological order; cpts[f]:
/// the flat table of families[f] (columns sum to 1). out: one column of n codes per
/// variable (indexed by variable), each n long. The draws depend on seed only.
template <class T>
void sample_network(const std::vector<int>& cards, const std::vector<Family>& families,
                    const std::vector<std::vector<double>>& cpts, std::int64_t n, std::uint64_t seed,
                    const std::vector<T*>& out, int n_threads);

/// out[i] = sum over families of log P(child | parents) at row i (all codes observed;
/// throws std::invalid_argument on a missing or out-of-range code).
template <class T>
void log_likelihood_rows(const Codes<T>& codes, const std::vector<int>& cards,
                         const std::vector<Family>& families, const std::vector<std::vector<double>>& cpts,
                         double* out, int n_threads);

/// Posterior of the hidden variables given each row's other variables (all observed):
/// P(h | e) is proportional to the product of every table that mentions a hidden variable,
/// enumerated over the joint states of `hidden` (at most max_configs). Writes each
/// hidden variable's marginal (marginals: rows x sum of the hidden cards, variables in
/// the order of `hidden`) and the most probable joint state as one code per hidden
/// variable (map: rows x hidden.size()). codes.columns of hidden variables are not read.
/// Throws std::invalid_argument naming the first row whose evidence has probability 0.
template <class T>
void posterior_rows(const Codes<T>& codes, const std::vector<int>& cards, const std::vector<Family>& families,
                    const std::vector<std::vector<double>>& cpts, const std::vector<int>& hidden,
                    double* marginals, std::int32_t* map, int n_threads);

/// Likelihood weighting: n samples drawn in topological order with the evidence
/// clamped, each weighted by the probability of its evidence given its parents.
/// evidence: per variable, its observed code or -1. For each query variable (in order)
/// its states' posterior estimates and standard errors (delta method for the ratio of
/// weighted sums); the draws depend on seed only.
struct WeightedEstimate {
  std::vector<double> probability, std_error;
  double sum_weight = 0;
  double effective_samples = 0;  ///< (sum w)^2 / sum w^2
};
WeightedEstimate likelihood_weighting(const std::vector<int>& cards, const std::vector<Family>& families,
                                      const std::vector<std::vector<double>>& cpts, const std::vector<int>& evidence,
                                      const std::vector<int>& query, std::int64_t n, std::uint64_t seed,
                                      int n_threads);

template <class Fn>
void FamilyCounts::for_each_nonzero(Fn&& fn) const {
  const std::int64_t card = shape.card, q = shape.n_configs;
  if (sparse) {
    for (std::size_t i = 0; i < keys.size(); ++i)
      fn(std::int64_t(keys[i]) / card, std::int64_t(keys[i]) % card, values[i]);
    return;
  }
  for (std::int64_t s = 0; s < card; ++s)
    for (std::int64_t j = 0; j < q; ++j)
      if (dense[std::size_t(s * q + j)] != 0) fn(j, s, dense[std::size_t(s * q + j)]);
}

}  // namespace scalegen::bayesnet
