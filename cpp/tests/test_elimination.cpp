// Variable elimination against enumeration of the full joint on random networks (posteriors
// for every heuristic, on one and two threads, and the most probable state), and refusals.
#include <algorithm>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "scalegen/bayesnet/elimination.hpp"
#include "scalegen/common/limits.hpp"

using namespace scalegen::bayesnet;

namespace {

struct Random {
  std::vector<int> cards;
  std::vector<std::vector<int>> scopes;
  std::vector<std::vector<double>> tables;
};

// n variables, each with up to 3 parents among the earlier ones; columns of random
// probabilities with about one zero in five.
Random random_network(int n, int max_card, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Random r;
  for (int v = 0; v < n; ++v) r.cards.push_back(2 + int(rng() % std::uint64_t(max_card - 1)));
  for (int v = 0; v < n; ++v) {
    std::vector<int> scope{v};
    for (int p = 0; p < v; ++p)
      if (scope.size() < 4 && rng() % 2) scope.push_back(p);
    std::int64_t configs = 1;
    for (std::size_t k = 1; k < scope.size(); ++k) configs *= r.cards[std::size_t(scope[k])];
    const int card = r.cards[std::size_t(v)];
    std::vector<double> table(std::size_t(card * configs));
    for (std::int64_t j = 0; j < configs; ++j) {
      double total = 0;
      for (int s = 0; s < card; ++s) {
        double& p = table[std::size_t(s * configs + j)];
        p = (s == 0 && u(rng) < 0.2) ? 0.0 : u(rng) + 0.01;
        total += p;
      }
      for (int s = 0; s < card; ++s) table[std::size_t(s * configs + j)] /= total;
    }
    r.scopes.push_back(scope);
    r.tables.push_back(table);
  }
  return r;
}

// P(state) for every joint state, first variable slowest.
std::vector<double> enumerate(const Random& r) {
  std::int64_t total = 1;
  for (int c : r.cards) total *= c;
  std::vector<double> joint(static_cast<std::size_t>(total));
  std::vector<int> state(r.cards.size());
  for (std::int64_t i = 0; i < total; ++i) {
    for (std::int64_t rest = i, v = std::int64_t(r.cards.size()); v-- > 0;) {
      state[std::size_t(v)] = int(rest % r.cards[std::size_t(v)]);
      rest /= r.cards[std::size_t(v)];
    }
    double p = 1;
    for (std::size_t v = 0; v < r.cards.size(); ++v) {
      std::int64_t cell = 0;
      for (int u : r.scopes[v]) cell = cell * r.cards[std::size_t(u)] + state[std::size_t(u)];
      p *= r.tables[v][std::size_t(cell)];
    }
    joint[std::size_t(i)] = p;
  }
  return joint;
}

std::vector<int> decode(const Random& r, std::int64_t i) {
  std::vector<int> state(r.cards.size());
  for (std::int64_t v = std::int64_t(r.cards.size()); v-- > 0;) {
    state[std::size_t(v)] = int(i % r.cards[std::size_t(v)]);
    i /= r.cards[std::size_t(v)];
  }
  return state;
}

void test_against_enumeration(int n, int max_card, std::uint64_t seed) {
  const Random r = random_network(n, max_card, seed);
  const std::vector<double> joint = enumerate(r);
  const EliminationNetwork net(r.cards, r.scopes, r.tables);
  std::mt19937_64 rng(seed + 1);
  const auto heuristics = {EliminationHeuristic::greedy, EliminationHeuristic::min_fill,
                           EliminationHeuristic::weighted_min_fill, EliminationHeuristic::min_neighbors,
                           EliminationHeuristic::min_weight};
  for (int trial = 0; trial < 12; ++trial) {
    // evidence from a possible joint state; keep: one or two other variables
    std::int64_t row;
    do row = std::int64_t(rng() % joint.size());
    while (!(joint[std::size_t(row)] > 0));
    const std::vector<int> truth = decode(r, row);
    std::vector<int> perm(static_cast<std::size_t>(n));
    for (int v = 0; v < n; ++v) perm[std::size_t(v)] = v;
    std::shuffle(perm.begin(), perm.end(), rng);
    const std::vector<int> keep(perm.begin(), perm.begin() + 1 + trial % 2);
    Evidence evidence;
    for (int k = 0; k < trial % 4; ++k)
      evidence.emplace_back(perm[std::size_t(2 + k)], truth[std::size_t(perm[std::size_t(2 + k)])]);
    // brute force: P(keep | evidence) and the most probable completion
    std::int64_t keep_cells = 1;
    for (int v : keep) keep_cells *= r.cards[std::size_t(v)];
    std::vector<double> expected(static_cast<std::size_t>(keep_cells), 0.0);
    double best = -1, total = 0;
    std::vector<int> best_state;
    for (std::size_t i = 0; i < joint.size(); ++i) {
      const std::vector<int> s = decode(r, std::int64_t(i));
      if (!std::all_of(evidence.begin(), evidence.end(), [&](auto e) { return s[std::size_t(e.first)] == e.second; }))
        continue;
      std::int64_t cell = 0;
      for (int v : keep) cell = cell * r.cards[std::size_t(v)] + s[std::size_t(v)];
      expected[std::size_t(cell)] += joint[i];
      total += joint[i];
      if (joint[i] > best) best = joint[i], best_state = s;
    }
    for (auto h : heuristics) {
      const auto one = net.posterior(keep, evidence, h, {}, 1);
      const auto two = net.posterior(keep, evidence, h, {}, 2);
      CHECK(one == two);
      CHECK(one.size() == expected.size());
      for (std::size_t c = 0; c < expected.size() && c < one.size(); ++c)
        CHECK_NEAR(one[c], expected[c] / total, 1e-12);
      const auto map = net.most_probable(evidence, h, {}, 2);
      for (int v = 0; v < n; ++v) {
        const bool observed = std::any_of(evidence.begin(), evidence.end(), [&](auto e) { return e.first == v; });
        CHECK(map[std::size_t(v)] == (observed ? -1 : best_state[std::size_t(v)]));
      }
    }
    // an explicit order: every variable neither kept nor observed, in reverse
    std::vector<int> order;
    for (int v = n; v-- > 0;)
      if (std::find(keep.begin(), keep.end(), v) == keep.end() &&
          std::none_of(evidence.begin(), evidence.end(), [&](auto e) { return e.first == v; }))
        order.push_back(v);
    const auto given = net.posterior(keep, evidence, EliminationHeuristic::min_fill, order, 1);
    for (std::size_t c = 0; c < expected.size(); ++c) CHECK_NEAR(given[c], expected[c] / total, 1e-12);
  }
}

void test_refusals() {
  const Random r = random_network(4, 3, 5);
  const EliminationNetwork net(r.cards, r.scopes, r.tables);
  CHECK_THROWS(std::invalid_argument, net.posterior({}, {}, EliminationHeuristic::min_fill, {}, 1));
  CHECK_THROWS(std::invalid_argument, net.posterior({7}, {}, EliminationHeuristic::min_fill, {}, 1));
  CHECK_THROWS(std::invalid_argument, net.posterior({0, 0}, {}, EliminationHeuristic::min_fill, {}, 1));
  CHECK_THROWS(std::invalid_argument, net.posterior({0}, {{0, 1}}, EliminationHeuristic::min_fill, {}, 1));
  CHECK_THROWS(std::invalid_argument, net.posterior({1}, {{0, 9}}, EliminationHeuristic::min_fill, {}, 1));
  // a table of the wrong size, a scope that does not start with its variable
  auto bad = r;
  bad.tables[2].pop_back();
  CHECK_THROWS(std::invalid_argument, EliminationNetwork(bad.cards, bad.scopes, bad.tables));
  bad = r;
  bad.scopes[1][0] = 0;
  CHECK_THROWS(std::invalid_argument, EliminationNetwork(bad.cards, bad.scopes, bad.tables));
  // impossible evidence: a network whose child is never in state 1
  const EliminationNetwork sure({2, 2}, {{0}, {1, 0}}, {{0.5, 0.5}, {1.0, 1.0, 0.0, 0.0}});
  CHECK_THROWS(std::domain_error, sure.posterior({0}, {{1, 1}}, EliminationHeuristic::min_fill, {}, 1));
  // rows: each row's completion equals most_probable on its observed codes; row 1 is impossible
  const std::vector<std::int8_t> col0{-1, -1, 1}, col1{0, 1, -1};
  Codes<std::int8_t> codes;
  codes.columns = {col0.data(), col1.data()};
  codes.n_rows = 3;
  std::vector<std::int32_t> out(6, -9);
  CHECK_THROWS(std::domain_error, sure.most_probable_rows(codes, EliminationHeuristic::greedy, out.data(), 2));
  codes.n_rows = 1;
  sure.most_probable_rows(codes, EliminationHeuristic::greedy, out.data(), 2);
  CHECK(out[0] == sure.most_probable({{1, 0}}, EliminationHeuristic::min_fill, {}, 1)[0] && out[1] == 0);
  // an explicit order that leaves out an ancestor of the query (0)
  CHECK_THROWS(std::invalid_argument, sure.posterior({1}, {}, EliminationHeuristic::min_fill, {1}, 1));
  // a product above max_tensor_bytes: 16 parents of 4 states make a 4^17-cell factor
  std::vector<int> cards(17, 4);
  std::vector<std::vector<int>> scopes;
  std::vector<std::vector<double>> tables;
  for (int v = 0; v < 16; ++v) scopes.push_back({v}), tables.push_back({0.25, 0.25, 0.25, 0.25});
  const scalegen::Limits before = scalegen::get_limits();
  scalegen::set_limits({1 << 20, before.max_total_bytes});
  // the child's table would itself be too big to hold; give it 2 parents and query all 16
  scopes.push_back({16, 0, 1});
  tables.push_back(std::vector<double>(64, 0.25));
  const EliminationNetwork wide(cards, scopes, tables);
  std::vector<int> all(16);
  for (int v = 0; v < 16; ++v) all[std::size_t(v)] = v;
  CHECK_THROWS(scalegen::LimitError, wide.posterior(all, {}, EliminationHeuristic::min_fill, {}, 1));
  scalegen::set_limits(before);
}

}  // namespace

int main() {
  test_against_enumeration(6, 4, 1);
  test_against_enumeration(7, 3, 2);
  test_against_enumeration(6, 7, 3);  // products large enough to run on threads
  test_refusals();
  TEST_MAIN_END();
}
