// EM's E-step on a junction tree against enumeration of the joint states: the chain
// A -> B -> C (binary), rows with missing codes, weights, and refused trees and rows.
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "scalegen/bayesnet/junction_tree.hpp"

using namespace scalegen::bayesnet;

namespace {

const std::vector<int> kCards = {2, 2, 2};
const std::vector<Family> kFamilies = {{0, {}}, {1, {0}}, {2, {1}}};
// FamilyShape's layout: cell = child state * n_configs + parent configuration.
const std::vector<std::vector<double>> kTables = {{0.3, 0.7}, {0.9, 0.2, 0.1, 0.8}, {0.6, 0.25, 0.4, 0.75}};

// Cliques {A, B} and {B, C}; the second sends its message to the first over {B}.
JunctionTree chain_tree() {
  JunctionTree t;
  t.offset = {0, 4, 8};
  t.root = 0;
  t.clique_vars = {{0, 1}, {1, 2}};
  t.messages.push_back({1, 0, 2, {0, 0, 1, 1}, {0, 1, 0, 1}});
  t.family_clique = {0, 0, 1};
  t.family_map = {{0, 0, 1, 1}, {0, 2, 1, 3}, {0, 2, 1, 3}};
  return t;
}

// Each clique's product of its tables, entry (x, y) at 2 * x + y.
std::vector<double> potentials() {
  std::vector<double> p(8);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) {
      p[std::size_t(2 * a + b)] = kTables[0][std::size_t(a)] * kTables[1][std::size_t(b * 2 + a)];
      p[std::size_t(4 + 2 * a + b)] = kTables[2][std::size_t(b * 2 + a)];  // here a is B, b is C
    }
  return p;
}

void test_against_enumeration() {
  const std::vector<std::array<std::int8_t, 3>> rows = {{-1, 1, 0}, {0, -1, 1}, {-1, -1, -1}, {1, 0, 1}, {-1, -1, 1}};
  const std::vector<double> w = {1.0, 2.0, 0.5, 1.5, 3.0};
  std::vector<std::vector<std::int8_t>> cols(3);
  for (const auto& r : rows)
    for (std::size_t v = 0; v < 3; ++v) cols[v].push_back(r[v]);
  Codes<std::int8_t> codes;
  for (const auto& c : cols) codes.columns.push_back(c.data());
  codes.n_rows = std::int64_t(rows.size());

  std::vector<std::vector<double>> want = {std::vector<double>(2), std::vector<double>(4), std::vector<double>(4)};
  double want_ll = 0, want_w = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    double joint[8], z = 0;
    for (int k = 0; k < 8; ++k) {
      const int a = k >> 2, b = (k >> 1) & 1, c = k & 1;
      const bool agrees = (rows[r][0] < 0 || rows[r][0] == a) && (rows[r][1] < 0 || rows[r][1] == b) &&
                          (rows[r][2] < 0 || rows[r][2] == c);
      joint[k] = agrees ? kTables[0][std::size_t(a)] * kTables[1][std::size_t(b * 2 + a)] *
                              kTables[2][std::size_t(c * 2 + b)]
                        : 0.0;
      z += joint[k];
    }
    want_ll += w[r] * std::log(z);
    want_w += w[r];
    for (int k = 0; k < 8; ++k) {
      const int a = k >> 2, b = (k >> 1) & 1, c = k & 1;
      const double p = w[r] * joint[k] / z;
      want[0][std::size_t(a)] += p;
      want[1][std::size_t(b * 2 + a)] += p;
      want[2][std::size_t(c * 2 + b)] += p;
    }
  }
  for (int threads : {1, 2}) {
    const ExpectedCounts got =
        expected_counts(codes, kCards, kFamilies, kTables, chain_tree(), potentials(), w.data(), threads);
    CHECK_NEAR(got.log_likelihood, want_ll, 1e-13);
    CHECK_NEAR(got.weight, want_w, 1e-15);
    for (std::size_t f = 0; f < 3; ++f)
      for (std::size_t i = 0; i < want[f].size(); ++i) CHECK_NEAR(got.counts[f][i], want[f][i], 1e-13);
  }
}

void test_refusals() {
  std::vector<std::int8_t> a = {0}, b = {-1}, c = {1};
  Codes<std::int8_t> codes;
  codes.columns = {a.data(), b.data(), c.data()};
  codes.n_rows = 1;
  JunctionTree bad = chain_tree();
  bad.messages[0].child_map[3] = 2;  // outside the separator
  CHECK_THROWS(std::invalid_argument, expected_counts(codes, kCards, kFamilies, kTables, bad, potentials(), nullptr, 1));
  bad = chain_tree();
  bad.clique_vars[1] = {2, 1};  // not ascending
  CHECK_THROWS(std::invalid_argument, expected_counts(codes, kCards, kFamilies, kTables, bad, potentials(), nullptr, 1));
  auto impossible = kTables;
  impossible[2] = {1.0, 1.0, 0.0, 0.0};  // C is never 1
  std::vector<double> pot = potentials();
  for (int k = 4; k < 8; ++k) pot[std::size_t(k)] = (k & 1) ? 0.0 : 1.0;
  CHECK_THROWS(std::domain_error, expected_counts(codes, kCards, kFamilies, impossible, chain_tree(), pot, nullptr, 1));
}

}  // namespace

int main() {
  test_against_enumeration();
  test_refusals();
  TEST_MAIN_END();
}
