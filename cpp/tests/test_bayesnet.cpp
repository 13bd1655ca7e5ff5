// Bayesian-network kernels against direct loops: counting (dense, sparse, weights,
// missing codes), merging, scores, sampling determinism and log-likelihoods.
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "check.hpp"
#include "../src/bayesnet/row_bits.hpp"  // header-only: the climber's bit-set counting
#include "scalegen/bayesnet/counting.hpp"
#include "scalegen/bayesnet/structure.hpp"

using namespace scalegen::bayesnet;

namespace {

// Variables: 0 (3 states), 1 (2 states), 2 (4 states); family 0 | (2, 1).
const std::vector<int> kCards = {3, 2, 4};
const Family kFamily{0, {2, 1}};

std::vector<std::vector<std::int8_t>> make_data(std::int64_t n, bool with_missing) {
  std::mt19937_64 rng(3);
  std::vector<std::vector<std::int8_t>> cols(3, std::vector<std::int8_t>(std::size_t(n)));
  for (std::size_t v = 0; v < 3; ++v)
    for (auto& x : cols[v]) x = std::int8_t(rng() % std::uint64_t(kCards[v]));
  if (with_missing)
    for (std::size_t i = 0; i < std::size_t(n); i += 7) cols[i % 3][i] = -1;
  return cols;
}

Codes<std::int8_t> view(const std::vector<std::vector<std::int8_t>>& cols) {
  Codes<std::int8_t> c;
  for (const auto& col : cols) c.columns.push_back(col.data());
  c.n_rows = std::int64_t(cols[0].size());
  return c;
}

// Direct counts in the dense layout s * q + j, j = code2 * 2 + code1.
std::vector<double> reference(const std::vector<std::vector<std::int8_t>>& cols, const double* w) {
  std::vector<double> out(24, 0.0);
  for (std::size_t i = 0; i < cols[0].size(); ++i) {
    if (cols[0][i] < 0 || cols[1][i] < 0 || cols[2][i] < 0) continue;
    out[std::size_t(cols[0][i] * 8 + cols[2][i] * 2 + cols[1][i])] += w ? w[i] : 1.0;
  }
  return out;
}

void test_counting() {
  // More rows than one segment, so segments are merged.
  const std::int64_t n = 600000;
  const auto cols = make_data(n, true);
  std::vector<double> w(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.25 * double(i % 5);
  for (const double* weights : {static_cast<const double*>(nullptr), static_cast<const double*>(w.data())}) {
    const auto ref = reference(cols, weights);
    const auto dense = count_families(view(cols), kCards, {kFamily}, weights, 1 << 20, 2);
    const auto sparse = count_families(view(cols), kCards, {kFamily}, weights, 4, 1);
    CHECK(!dense[0].sparse && sparse[0].sparse);
    const auto from_sparse = sparse[0].to_dense();
    double total = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
      CHECK(dense[0].dense[i] == ref[i]);
      CHECK(from_sparse[i] == ref[i]);
      total += ref[i];
    }
    CHECK(dense[0].total == total && sparse[0].total == total);
    // Thread count does not change a bit of the weighted sums.
    const auto one = count_families(view(cols), kCards, {kFamily}, weights, 1 << 20, 1);
    CHECK(one[0].dense == dense[0].dense);
  }

  // Counts of two halves merge into the counts of the whole.
  for (std::int64_t limit : {std::int64_t(1) << 20, std::int64_t(4)}) {
    std::vector<std::vector<std::int8_t>> a(3), b(3);
    for (std::size_t v = 0; v < 3; ++v) {
      a[v].assign(cols[v].begin(), cols[v].begin() + 1000);
      b[v].assign(cols[v].begin() + 1000, cols[v].begin() + 3000);
    }
    auto merged = count_families(view(a), kCards, {kFamily}, nullptr, limit, 1)[0];
    merged.merge(count_families(view(b), kCards, {kFamily}, nullptr, limit, 1)[0]);
    std::vector<std::vector<std::int8_t>> both(3);
    for (std::size_t v = 0; v < 3; ++v) both[v].assign(cols[v].begin(), cols[v].begin() + 3000);
    CHECK(merged.to_dense() == reference(both, nullptr));
  }

  // A code beyond its card is an error, not an out-of-bounds write.
  auto bad = make_data(100, false);
  bad[2][50] = 9;
  CHECK_THROWS(std::invalid_argument, count_families(view(bad), kCards, {kFamily}, nullptr, 1 << 20, 2));
  CHECK_THROWS(std::invalid_argument, count_families(view(bad), kCards, {Family{0, {5}}}, nullptr, 1 << 20, 1));
}

void test_scores() {
  const auto cols = make_data(5000, false);
  const auto counts = count_families(view(cols), kCards, {kFamily}, nullptr, 1 << 20, 1)[0];
  const auto n = reference(cols, nullptr);
  const double r = 3, q = 8, ess = 10, rows = 5000;
  double ll = 0, k2 = 0, bdeu = 0;
  for (int j = 0; j < 8; ++j) {
    double nj = 0;
    for (int s = 0; s < 3; ++s) nj += n[std::size_t(s * 8 + j)];
    k2 += std::lgamma(r) - std::lgamma(nj + r);
    bdeu += std::lgamma(ess / q) - std::lgamma(nj + ess / q);
    for (int s = 0; s < 3; ++s) {
      const double x = n[std::size_t(s * 8 + j)];
      if (x > 0) ll += x * std::log(x / nj);
      k2 += std::lgamma(x + 1);
      bdeu += std::lgamma(x + ess / (q * r)) - std::lgamma(ess / (q * r));
    }
  }
  CHECK_NEAR(family_score(counts, Score::LogLikelihood, rows, ess), ll, 1e-12);
  CHECK_NEAR(family_score(counts, Score::BIC, rows, ess), ll - 0.5 * std::log(rows) * q * (r - 1), 1e-12);
  CHECK_NEAR(family_score(counts, Score::AIC, rows, ess), ll - q * (r - 1), 1e-12);
  CHECK_NEAR(family_score(counts, Score::K2, rows, ess), k2, 1e-12);
  CHECK_NEAR(family_score(counts, Score::BDeu, rows, ess), bdeu, 1e-12);
  CHECK_THROWS(std::invalid_argument, parse_score("bdx"));
  CHECK(parse_score("bds") == Score::BDs);
}

void test_sampling_and_likelihood() {
  // 1 -> 0 <- 2 with a deterministic zero in the table.
  const std::vector<Family> order = {{1, {}}, {2, {}}, {0, {2, 1}}};
  std::vector<std::vector<double>> cpts = {{0.3, 0.7}, {0.1, 0.2, 0.3, 0.4}, std::vector<double>(24)};
  for (int j = 0; j < 8; ++j) {
    cpts[2][std::size_t(j)] = 0.5;
    cpts[2][std::size_t(8 + j)] = j == 3 ? 0.5 : 0.0;
    cpts[2][std::size_t(16 + j)] = j == 3 ? 0.0 : 0.5;
  }
  const std::int64_t n = 20000;
  std::vector<std::vector<std::int8_t>> a(3, std::vector<std::int8_t>(std::size_t(n)));
  auto b = a;
  const auto ptrs = [](std::vector<std::vector<std::int8_t>>& c) {
    return std::vector<std::int8_t*>{c[0].data(), c[1].data(), c[2].data()};
  };
  sample_network(kCards, order, cpts, n, 99, ptrs(a), 1);
  sample_network(kCards, order, cpts, n, 99, ptrs(b), 2);
  CHECK(a == b);
  std::map<int, int> seen;
  for (std::int64_t i = 0; i < n; ++i) {
    const int j = a[2][std::size_t(i)] * 2 + a[1][std::size_t(i)];
    const int s = a[0][std::size_t(i)];
    CHECK(cpts[2][std::size_t(s * 8 + j)] > 0);  // zero-probability cells never drawn
    ++seen[a[1][std::size_t(i)]];
  }
  CHECK(std::abs(seen[1] / double(n) - 0.7) < 0.02);

  std::vector<double> ll(static_cast<std::size_t>(n));
  std::vector<Family> by_var = {kFamily, {1, {}}, {2, {}}};
  std::vector<std::vector<double>> tables = {cpts[2], cpts[0], cpts[1]};
  log_likelihood_rows(view(a), kCards, by_var, tables, ll.data(), 2);
  for (std::int64_t i = 0; i < n; i += 997) {
    const std::size_t r = std::size_t(i);
    const double expect = std::log(cpts[0][std::size_t(a[1][r])]) + std::log(cpts[1][std::size_t(a[2][r])]) +
                          std::log(cpts[2][std::size_t(a[0][r] * 8 + a[2][r] * 2 + a[1][r])]);
    CHECK_NEAR(ll[r], expect, 1e-14);
  }
  // Posterior of variable 1 given 0 and 2, against Bayes' rule by hand.
  std::vector<double> marg(std::size_t(n) * 2);
  std::vector<std::int32_t> best(static_cast<std::size_t>(n));
  posterior_rows(view(a), kCards, by_var, tables, {1}, marg.data(), best.data(), 2);
  for (std::int64_t i = 0; i < n; i += 1231) {
    const std::size_t r = std::size_t(i);
    double joint[2];
    for (int s1 = 0; s1 < 2; ++s1)
      joint[s1] = cpts[0][std::size_t(s1)] * cpts[2][std::size_t(a[0][r] * 8 + a[2][r] * 2 + s1)];
    CHECK_NEAR(marg[2 * r], joint[0] / (joint[0] + joint[1]), 1e-14);
    CHECK(best[r] == (joint[1] > joint[0] ? 1 : 0));
  }
  a[1][5] = -1;
  CHECK_THROWS(std::invalid_argument, log_likelihood_rows(view(a), kCards, by_var, tables, ll.data(), 2));
  // Families out of topological order, wrong table sizes.
  const std::vector<Family> wrong = {{0, {2, 1}}, {1, {}}, {2, {}}};
  CHECK_THROWS(std::invalid_argument, sample_network(kCards, wrong, tables, n, 1, ptrs(b), 1));
  cpts[2].pop_back();
  CHECK_THROWS(std::invalid_argument, sample_network(kCards, order, cpts, n, 1, ptrs(b), 1));
}

void test_hill_climb() {
  // A -> B -> C with strong dependence and an independent D: the skeleton is A-B, B-C.
  const std::int64_t n = 20000;
  std::mt19937_64 rng(5);
  std::vector<std::vector<std::int8_t>> cols(4, std::vector<std::int8_t>(std::size_t(n)));
  for (std::size_t i = 0; i < std::size_t(n); ++i) {
    cols[0][i] = std::int8_t(rng() % 3);
    cols[1][i] = std::int8_t(rng() % 10 < 8 ? cols[0][i] % 2 : rng() % 2);
    cols[2][i] = std::int8_t(rng() % 10 < 8 ? cols[1][i] : 1 - cols[1][i]);
    cols[3][i] = std::int8_t(rng() % 2);
  }
  const std::vector<int> cards = {3, 2, 2, 2};
  HillClimbOptions opt;
  opt.n_threads = 1;
  const auto one = hill_climb(view(cols), cards, opt);
  opt.n_threads = 2;
  const auto two = hill_climb(view(cols), cards, opt);
  CHECK(one.edges == two.edges && one.score == two.score && one.n_iter == two.n_iter);
  CHECK(one.edges.size() == 2);
  for (const auto& [u, v] : one.edges) CHECK((std::min(u, v) == 0 && std::max(u, v) == 1) || (std::min(u, v) == 1 && std::max(u, v) == 2));
  // The reported score is the sum of the final families' local scores.
  std::vector<Family> fams(4);
  for (int v = 0; v < 4; ++v) fams[std::size_t(v)].child = v;
  for (const auto& [u, v] : one.edges) fams[std::size_t(v)].parents.push_back(u);
  double total = 0;
  for (double s : local_scores(view(cols), cards, fams, Score::BIC, 10, 2)) total += s;
  CHECK_NEAR(one.score, total, 1e-12);

  opt.black_list = {{0, 1}, {1, 0}};
  opt.fixed_edges = {{3, 2}};
  const auto constrained = hill_climb(view(cols), cards, opt);
  for (const auto& e : constrained.edges) CHECK(e != Edge(0, 1) && e != Edge(1, 0));
  CHECK(std::find(constrained.edges.begin(), constrained.edges.end(), Edge(3, 2)) != constrained.edges.end());
  opt.start_edges = {{0, 1}, {1, 2}, {2, 0}};
  CHECK_THROWS(std::invalid_argument, hill_climb(view(cols), cards, opt));
  opt.start_edges = {{0, 7}};
  CHECK_THROWS(std::invalid_argument, hill_climb(view(cols), cards, opt));
}

void test_row_bits() {
  // Bit-set counts equal row counts, with missing values and rows past the first block.
  const std::int64_t n = 40000;
  std::mt19937_64 rng(9);
  const std::vector<int> cards = {3, 2, 5, 4};
  std::vector<std::vector<std::int8_t>> cols(4, std::vector<std::int8_t>(std::size_t(n)));
  for (std::size_t j = 0; j < 4; ++j)
    for (auto& x : cols[j]) x = (j != 1 && rng() % 50 == 0) ? std::int8_t(-1) : std::int8_t(rng() % std::uint64_t(cards[j]));
  const auto codes = view(cols);
  const RowBits bits(codes, cards, std::int64_t(1) << 30, 2);
  CHECK(bits.usable() && bits.complete(1) && !bits.complete(0));
  CHECK(!RowBits(codes, cards, 1000, 2).usable());  // over the byte budget
  // A family's table in BlockConfigs' layout (child + card * configuration) against the
  // dense table of count_families (child * configurations + configuration).
  const auto same = [&](const Family& f, const std::vector<std::uint64_t>& table) {
    const FamilyCounts rows = count_families(codes, cards, {f}, nullptr, -1, 1)[0];
    const std::int64_t r = rows.shape.card, q = rows.shape.n_configs;
    CHECK(std::int64_t(table.size()) == r * q);
    for (std::int64_t s = 0; s < r; ++s)
      for (std::int64_t j = 0; j < q; ++j) CHECK(double(table[std::size_t(j * r + s)]) == rows.dense[std::size_t(s * q + j)]);
  };
  const std::vector<Family> fams = {{0, {}}, {0, {2, 3}}, {2, {1}}, {3, {0, 1, 2}}};
  std::vector<std::vector<std::uint64_t>> tables;
  count_families_bits(bits, cards, fams, tables, 2);
  for (std::size_t f = 0; f < fams.size(); ++f) same(fams[f], tables[f]);
  // Adding x to (w, parents) is the family (w, x, parents...): complete and incomplete x.
  count_additions(bits, cards, 2, {0, 3}, {1}, tables, 2);
  same({2, {1, 0, 3}}, tables[0]);
  count_additions(bits, cards, 2, {3}, {0, 1}, tables, 1);
  same({2, {0, 3}}, tables[0]);
  same({2, {1, 3}}, tables[1]);
}

void test_search_options() {
  // The starts and the restarts: deterministic, thread-independent, never below the
  // plain climb, and the reported score is the final DAG's.
  const auto cols = make_data(30000, false);
  HillClimbOptions plain;
  const auto base = hill_climb(view(cols), kCards, plain);
  HillClimbOptions opt;
  opt.mirror_start = opt.forest_start = true;
  opt.n_restarts = 5;
  opt.perturbation = 2;
  opt.seed = 11;
  opt.n_threads = 1;
  const auto one = hill_climb(view(cols), kCards, opt);
  opt.n_threads = 2;
  const auto two = hill_climb(view(cols), kCards, opt);
  CHECK(one.edges == two.edges && one.score == two.score && one.n_iter == two.n_iter);
  CHECK(one.score >= base.score - 1e-9 * std::fabs(base.score));
  std::vector<Family> fams(3);
  for (int v = 0; v < 3; ++v) fams[std::size_t(v)].child = v;
  for (const auto& [u, v] : one.edges) fams[std::size_t(v)].parents.push_back(u);
  double total = 0;
  for (double s : local_scores(view(cols), kCards, fams, Score::BIC, 10, 2)) total += s;
  CHECK_NEAR(one.score, total, 1e-9 * std::fabs(total));
  // Scores from a callback (as a cluster would give them) take the same path.
  opt.family_scores = [&](const std::vector<Family>& f) { return local_scores(view(cols), kCards, f, Score::BIC, 10, 1); };
  const auto external = hill_climb(view(cols), kCards, opt);
  CHECK(external.edges == one.edges && external.n_iter == one.n_iter);
}

}  // namespace

int main() {
  test_row_bits();
  test_search_options();
  test_counting();
  test_scores();
  test_sampling_and_likelihood();
  test_hill_climb();
  TEST_MAIN_END();
}
