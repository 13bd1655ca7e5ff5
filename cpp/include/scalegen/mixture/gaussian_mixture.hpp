#pragma once
/// Gaussian mixtures: the fused E-step + sufficient-statistics pass and the M-step.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace scalegen::mixture {

/// Shape of the covariance matrices, as in scikit-learn.
enum class CovarianceType { Full, Tied, Diag, Spherical };

/// Parses "full", "tied", "diag" or "spherical".
CovarianceType parse_covariance_type(const std::string& name);

/// Number of doubles one component's precision-Cholesky factor takes.
std::int64_t prec_chol_size(CovarianceType type, int n_components, int n_features);

/// A mixture in the form the E-step needs (always double, row-major).
/// prec_chol: full k*d*d (any M with precision = M M^T), tied d*d, diag k*d, spherical k.
struct MixtureParams {
  CovarianceType type = CovarianceType::Full;
  int n_components = 0;
  int n_features = 0;
  std::vector<double> weights;      ///< k positive weights; or empty when log_weights is set
  std::vector<double> log_weights;  ///< k finite log-weights used as given (variational E-steps:
                                    ///< they need not sum to one); empty for log(weights)
  std::vector<double> means;
  std::vector<double> prec_chol;

  /// log(weights[c]), or log_weights[c] when those are set.
  double log_weight(int c) const { return log_weights.empty() ? std::log(weights[c]) : log_weights[c]; }

  /// Throws std::invalid_argument when the sizes disagree or values are not finite.
  void validate() const;
};

/// Additive statistics of a set of weighted rows, shifted around `shift` (k*d) so that
/// chunks merge by addition and second moments do not cancel catastrophically.
struct SufficientStats {
  CovarianceType type = CovarianceType::Full;
  int n_components = 0;
  int n_features = 0;
  double sum_weight = 0;      ///< sum of sample weights
  double log_likelihood = 0;  ///< sum of w_i log p(x_i) (E-step passes only)
  double resp_entropy = 0;    ///< sum of w_i sum_k r_ik log r_ik (E-step passes that ask for it)
  std::vector<double> shift;  ///< k*d reference points (the means the pass started from)
  std::vector<double> nk;     ///< k: sum of r_ik
  std::vector<double> s1;     ///< k*d: sum r_ik (x_i - shift_k)
  /// (full and tied: the lower triangle, row-major; the upper one stays zero)
  /// full k*d*d: sum r_ik (x_i - shift_k)(x_i - shift_k)^T;
  /// tied d*d: sum w_i (x_i - c)(x_i - c)^T with c = tied_center();
  /// diag, spherical k*d: sum r_ik (x_i - shift_k)^2.
  std::vector<double> s2;

  /// Zero statistics around `shift`.
  SufficientStats(CovarianceType type, int n_components, int n_features, std::vector<double> shift);
  SufficientStats() = default;
  /// The single center of the tied second moment: the unweighted mean of the shifts.
  std::vector<double> tied_center() const;
  /// Adds the statistics of another set of rows with the same shift.
  void merge(const SufficientStats& other);
  /// Multiplies every statistic by factor (stepwise EM blends running statistics).
  void scale(double factor);
  /// The same statistics around another shift (k*d values).
  SufficientStats shifted(const std::vector<double>& new_shift) const;
};

/// Rows are summed in blocks of this many rows from the first one, and the blocks' statistics
/// merged in order: passes over chunks whose sizes are multiples of it, accumulated into one
/// SufficientStats, give the same bits as one pass over all the rows.
constexpr std::int64_t kStatsBlockRows = 2048;

/// A fitted M-step: new parameters and their covariances (k*d*d, d*d, k*d or k).
struct MStepResult {
  MixtureParams params;
  std::vector<double> covariances;
};

/// One E-step over n rows (row-major n x d) with optional sample weights, adding statistics
/// around params.means to `into` (whose shift must be params.means) block by block
/// (kStatsBlockRows), in row order: the result does not depend on n_threads.
/// With `entropy`, resp_entropy is accumulated too (variational lower bounds need it).
template <class T>
void e_step_accumulate(const T* X, const double* sample_weight, std::int64_t n, const MixtureParams& params,
                       int n_threads, SufficientStats& into, bool entropy = false);

/// e_step_accumulate into zero statistics.
template <class T>
SufficientStats e_step_stats(const T* X, const double* sample_weight, std::int64_t n,
                             const MixtureParams& params, int n_threads);

/// Adds to `into` the statistics of rows with given responsibilities around into.shift:
/// either resp (n x k, row-major) or hard labels (n, a negative label leaves the row out);
/// the other is null. Blocked and ordered as e_step_accumulate.
template <class T>
void resp_accumulate(const T* X, const double* resp, const std::int32_t* labels, const double* sample_weight,
                     std::int64_t n, int n_threads, SufficientStats& into);

/// Turns statistics into parameters (scikit-learn's M-step, reg_covar on the diagonal).
/// Throws std::invalid_argument when a covariance is not positive definite.
MStepResult m_step(const SufficientStats& stats, double reg_covar, double resp_eps);

/// Per-row log p(x_i) into log_norm (n) and, when log_resp is not null, log r_ik (n x k).
template <class T>
void log_prob_norm(const T* X, std::int64_t n, const MixtureParams& params, T* log_norm,
                   T* log_resp, int n_threads);

/// Precision-Cholesky factors (upper, scikit-learn's convention) of covariances.
/// Throws std::invalid_argument when one is not positive definite.
std::vector<double> precision_cholesky(CovarianceType type, int n_components, int n_features,
                                       const std::vector<double>& covariances);

}  // namespace scalegen::mixture
