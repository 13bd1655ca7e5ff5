#include "scalegen/bayesnet/counting.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "family_index.hpp"
#include "scalegen/common/parallel.hpp"

namespace scalegen::bayesnet {

namespace {

// Rows per counting task: fixed, so the reduction order never depends on the thread count.
constexpr std::int64_t kSegmentRows = std::int64_t(1) << 18;
// Rows per inner block: the index buffer stays in L1.
constexpr int kBlock = 1024;
// Tables up to this size are split over row segments; larger ones are counted whole.
constexpr std::int64_t kSplitLimit = std::int64_t(1) << 16;

// Dense counts of rows [begin, end) into table (size + 1 cells: the last takes rows with
// a missing code).
template <class T>
void count_dense(const FamilyPlan<T>& p, std::int64_t begin, std::int64_t end, const double* w,
                 std::vector<double>& table) {
  const std::int64_t size = p.shape.size();
  const auto missing = std::uint32_t(size);
  table.assign(std::size_t(size + 1), 0.0);
  std::uint32_t idx[kBlock];
  if (w) {
    for (std::int64_t b = begin; b < end; b += kBlock) {
      const int len = int(std::min<std::int64_t>(kBlock, end - b));
      family_indices(p, b, len, missing, idx);
      for (int i = 0; i < len; ++i) table[idx[i]] += w[b + i];
    }
    return;
  }
  // Integer counts (a segment has fewer than 2^32 rows), then one conversion.
  CellCounts counts(std::size_t(size + 1));
  for (std::int64_t b = begin; b < end; b += kBlock) {
    const int len = int(std::min<std::int64_t>(kBlock, end - b));
    family_indices(p, b, len, missing, idx);
    counts.add(len, [&](std::int64_t i) { return idx[i]; });
  }
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = double(counts[i]);
}

// Sparse counts of all rows: keys sorted, equal keys summed in row order.
template <class T>
void count_sparse(const FamilyPlan<T>& p, std::int64_t n_rows, const double* w, FamilyCounts& out) {
  constexpr auto missing = ~std::uint64_t(0);
  std::vector<std::uint64_t> keys(static_cast<std::size_t>(n_rows));
  for (std::int64_t b = 0; b < n_rows; b += kBlock) {
    const int len = int(std::min<std::int64_t>(kBlock, n_rows - b));
    family_indices(p, b, len, missing, keys.data() + b);
  }
  if (!w) {
    std::sort(keys.begin(), keys.end());
    for (std::size_t i = 0; i < keys.size();) {
      std::size_t j = i;
      while (j < keys.size() && keys[j] == keys[i]) ++j;
      if (keys[i] != missing) {
        out.keys.push_back(keys[i]);
        out.values.push_back(double(j - i));
        out.total += double(j - i);
      }
      i = j;
    }
    return;
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(n_rows));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return keys[a] < keys[b]; });
  for (std::size_t i = 0; i < order.size();) {
    const std::uint64_t key = keys[std::size_t(order[i])];
    double sum = 0;
    for (; i < order.size() && keys[std::size_t(order[i])] == key; ++i) sum += w[order[i]];
    if (key != missing && sum != 0) {
      out.keys.push_back(key);
      out.values.push_back(sum);
      out.total += sum;
    }
  }
}

}  // namespace

std::int64_t default_dense_limit(std::int64_t n_rows) {
  return std::max<std::int64_t>(1 << 16, std::min<std::int64_t>(1 << 24, 4 * n_rows));
}

FamilyShape family_shape(const Family& f, const std::vector<int>& cards) {
  const auto card_of = [&](int v) {
    if (v < 0 || std::size_t(v) >= cards.size())
      throw std::invalid_argument("family refers to variable " + std::to_string(v) + " of " +
                                  std::to_string(cards.size()));
    if (cards[std::size_t(v)] < 1) throw std::invalid_argument("every variable needs at least one state");
    return std::int64_t(cards[std::size_t(v)]);
  };
  FamilyShape s;
  s.card = card_of(f.child);
  constexpr std::int64_t limit = std::int64_t(1) << 62;
  for (int p : f.parents) {
    const std::int64_t c = card_of(p);
    if (s.n_configs > limit / c / s.card)
      throw std::invalid_argument("the parent configurations of variable " + std::to_string(f.child) +
                                  " are too many to index (more than 2^62 table cells)");
    s.n_configs *= c;
  }
  return s;
}

void FamilyCounts::merge(const FamilyCounts& other) {
  if (other.shape.card != shape.card || other.shape.n_configs != shape.n_configs || other.sparse != sparse)
    throw std::invalid_argument("counts of different families cannot be merged");
  total += other.total;
  if (!sparse) {
    for (std::size_t i = 0; i < dense.size(); ++i) dense[i] += other.dense[i];
    return;
  }
  std::vector<std::uint64_t> k;
  std::vector<double> v;
  std::size_t a = 0, b = 0;
  while (a < keys.size() || b < other.keys.size()) {
    if (b == other.keys.size() || (a < keys.size() && keys[a] < other.keys[b])) {
      k.push_back(keys[a]);
      v.push_back(values[a++]);
    } else if (a == keys.size() || other.keys[b] < keys[a]) {
      k.push_back(other.keys[b]);
      v.push_back(other.values[b++]);
    } else {
      k.push_back(keys[a]);
      v.push_back(values[a++] + other.values[b++]);
    }
  }
  keys = std::move(k);
  values = std::move(v);
}

std::vector<std::pair<std::int64_t, double>> FamilyCounts::config_totals() const {
  std::vector<std::pair<std::int64_t, double>> out;
  if (sparse) {
    for_each_nonzero([&](std::int64_t j, std::int64_t, double n) {
      if (out.empty() || out.back().first != j) out.emplace_back(j, 0.0);
      out.back().second += n;
    });
    return out;
  }
  const std::int64_t q = shape.n_configs;
  std::vector<double> nj(std::size_t(q), 0.0);
  for (std::int64_t s = 0; s < shape.card; ++s)
    for (std::int64_t j = 0; j < q; ++j) nj[std::size_t(j)] += dense[std::size_t(s * q + j)];
  for (std::int64_t j = 0; j < q; ++j)
    if (nj[std::size_t(j)] != 0) out.emplace_back(j, nj[std::size_t(j)]);
  return out;
}

std::vector<double> FamilyCounts::to_dense() const {
  if (!sparse) return dense;
  std::vector<double> out(std::size_t(shape.size()), 0.0);
  for_each_nonzero([&](std::int64_t j, std::int64_t s, double n) { out[std::size_t(s * shape.n_configs + j)] = n; });
  return out;
}

template <class T>
std::vector<FamilyCounts> count_families(const Codes<T>& codes, const std::vector<int>& cards,
                                         const std::vector<Family>& families, const double* weights,
                                         std::int64_t dense_limit, int n_threads) {
  if (codes.columns.size() != cards.size())
    throw std::invalid_argument("one card per data column is required");
  if (dense_limit < 0) dense_limit = default_dense_limit(codes.n_rows);
  dense_limit = std::min<std::int64_t>(dense_limit, std::int64_t(1) << 31);
  std::vector<FamilyPlan<T>> plans;
  for (const Family& f : families) plans.push_back(make_plan(codes, cards, f, dense_limit));

  // Tasks: (family, row segment). Small dense tables are split over fixed segments,
  // large and sparse ones are one task each.
  const std::int64_t n = codes.n_rows;
  const std::int64_t n_segments = std::max<std::int64_t>(1, (n + kSegmentRows - 1) / kSegmentRows);
  struct Task {
    std::size_t family;
    std::int64_t begin, end;
  };
  std::vector<Task> tasks;
  std::vector<std::size_t> first_task(families.size());
  for (std::size_t f = 0; f < families.size(); ++f) {
    first_task[f] = tasks.size();
    const bool split = !plans[f].sparse && plans[f].shape.size() <= kSplitLimit;
    const std::int64_t segs = split ? n_segments : 1;
    for (std::int64_t s = 0; s < segs; ++s)
      tasks.push_back({f, n * s / segs, n * (s + 1) / segs});
  }
  std::vector<FamilyCounts> out(families.size());
  std::vector<std::vector<double>> tables(tasks.size());
  parallel_for(n_threads, std::int64_t(tasks.size()), [&](std::int64_t t) {
    const Task& task = tasks[std::size_t(t)];
    const FamilyPlan<T>& p = plans[task.family];
    if (p.sparse) {
      FamilyCounts& c = out[task.family];
      c.shape = p.shape;
      c.sparse = true;
      count_sparse(p, n, weights, c);
    } else {
      count_dense(p, task.begin, task.end, weights, tables[std::size_t(t)]);
    }
  });
  // Merge the segments of each dense family in segment order.
  for (std::size_t f = 0; f < families.size(); ++f) {
    if (plans[f].sparse) continue;
    FamilyCounts& c = out[f];
    c.shape = plans[f].shape;
    const std::size_t last = f + 1 < families.size() ? first_task[f + 1] : tasks.size();
    std::vector<double>& table = tables[first_task[f]];
    for (std::size_t t = first_task[f] + 1; t < last; ++t) {
      for (std::size_t i = 0; i < table.size(); ++i) table[i] += tables[t][i];
      std::vector<double>().swap(tables[t]);
    }
    table.pop_back();  // rows with a missing code
    c.total = 0;
    for (double v : table) c.total += v;
    c.dense = std::move(table);
  }
  return out;
}

Score parse_score(const std::string& name) {
  if (name == "ll") return Score::LogLikelihood;
  if (name == "bic") return Score::BIC;
  if (name == "aic") return Score::AIC;
  if (name == "k2") return Score::K2;
  if (name == "bdeu") return Score::BDeu;
  if (name == "bds") return Score::BDs;
  throw std::invalid_argument("unknown score '" + name + "': expected one of ll, bic, aic, k2, bdeu, bds");
}

namespace {
// From here on Stirling's series with two correction terms is exact to double precision (its
// error is below 1/(1260 a^5)), while lgamma(a + n) - lgamma(a) loses digits as lgamma(a) grows
// (and is inf - inf past 2.5e305).
constexpr double kStirlingFrom = 1e3;

double stirling_tail(double x) { return (1 - 1 / (30 * x * x)) / (12 * x); }
}  // namespace

// log Gamma(a + n) - log Gamma(a), given lg_a = lgamma(a) when a < kStirlingFrom; for large a
// n log a + (a + n - 1/2) log1p(n / a) - n + tail(a + n) - tail(a).
double ScoreTerms::log_rising(double a, double lg_a, double n) {
  if (a < kStirlingFrom) return std::lgamma(a + n) - lg_a;
  return n * std::log(a) + ((a + n - 0.5) * std::log1p(n / a) - n) + (stirling_tail(a + n) - stirling_tail(a));
}

ScoreTerms::ScoreTerms(Score score, double card, double n_configs, double n_samples, double ess,
                       double observed_configs)
    : score_(score), card_(card) {
  const double params = n_configs * (card - 1);
  switch (score) {
    case Score::BIC: constant_ = -0.5 * std::log(n_samples) * params; break;
    case Score::AIC: constant_ = -params; break;
    case Score::K2: lg_card_ = std::lgamma(card); break;
    case Score::BDeu:
    case Score::BDs: {
      if (!(ess > 0)) throw std::invalid_argument("equivalent_sample_size must be positive");
      const double seen = std::max(1.0, observed_configs);
      alpha_ = ess / (score == Score::BDs ? seen : n_configs);
      beta_ = ess / (n_configs * card);
      lg_alpha_ = alpha_ < kStirlingFrom ? std::lgamma(alpha_) : 0;
      lg_beta_ = beta_ < kStirlingFrom ? std::lgamma(beta_) : 0;
      // pgmpy's BDs also subtracts lgamma(alpha) for each configuration not seen
      if (score == Score::BDs) constant_ = -(n_configs - seen) * std::lgamma(alpha_);
      break;
    }
    case Score::LogLikelihood: break;
  }
}

double ScoreTerms::cell(double n) const {
  switch (score_) {
    case Score::K2: return std::lgamma(n + 1);
    case Score::BDeu:
    case Score::BDs: return log_rising(beta_, lg_beta_, n);
    default: return n * std::log(n);
  }
}

double ScoreTerms::config(double nj) const {
  switch (score_) {
    case Score::K2: return lg_card_ - std::lgamma(nj + card_);
    case Score::BDeu:
    case Score::BDs: return -log_rising(alpha_, lg_alpha_, nj);
    default: return -nj * std::log(nj);
  }
}

double family_score(const FamilyCounts& counts, Score score, double n_samples, double ess) {
  double seen = 0;
  for (const auto& [j, nj] : counts.config_totals()) seen += nj > 0 ? 1 : 0;
  const ScoreTerms terms(score, double(counts.shape.card), double(counts.shape.n_configs), n_samples, ess, seen);
  double total = terms.constant();
  counts.for_each_nonzero([&](std::int64_t, std::int64_t, double n) { total += terms.cell(n); });
  for (const auto& [j, nj] : counts.config_totals()) total += terms.config(nj);
  return total;
}

template std::vector<FamilyCounts> count_families<std::int8_t>(const Codes<std::int8_t>&, const std::vector<int>&,
                                                               const std::vector<Family>&, const double*,
                                                               std::int64_t, int);
template std::vector<FamilyCounts> count_families<std::int16_t>(const Codes<std::int16_t>&,
                                                                const std::vector<int>&,
                                                                const std::vector<Family>&, const double*,
                                                                std::int64_t, int);

}  // namespace scalegen::bayesnet
