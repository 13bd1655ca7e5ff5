#pragma once
/// Exact per-row posteriors on a junction tree, for EM's expected counts.
///
/// The tree is compiled in Python (triangulation, cliques, the maps between tables below);
/// for each row the core keeps only the clique entries that agree with the row's observed
/// codes, calibrates the tree on them (collect, then distribute) and adds the posterior of
/// every family to its expected counts. With most variables observed a clique keeps a few
/// entries, so a row costs little more than its unobserved states.

#include <cstdint>
#include <vector>

#include "scalegen/bayesnet/counting.hpp"

namespace scalegen::bayesnet {

/// Clique potentials are flat C-order tables stored one after another: clique c holds
/// [offset[c], offset[c + 1]) of a potential vector. Maps send a table's entries to the
/// entries of a smaller table whose variables they contain (the sum over the others).
struct JunctionTree {
  std::vector<std::int64_t> offset;  ///< n_cliques + 1 entries, offset[0] == 0
  int root = 0;
  /// The variables of each clique, ascending: its table's axes in C order.
  std::vector<std::vector<int>> clique_vars;
  /// Messages in collect order (every child before its parent's own message).
  struct Message {
    int child = 0, parent = 0;
    std::int64_t separator_size = 0;
    std::vector<std::int32_t> child_map, parent_map;  ///< clique entry -> separator entry
  };
  std::vector<Message> messages;
  /// Family f's posterior is read from clique family_clique[f] through family_map[f]
  /// (clique entry -> cell of the family's table, FamilyShape's layout).
  std::vector<int> family_clique;
  std::vector<std::vector<std::int32_t>> family_map;
  /// Variable v's marginal is read from clique variable_clique[v] through variable_map[v]
  /// (clique entry -> state of v); empty when only expected counts are wanted.
  std::vector<int> variable_clique;
  std::vector<std::vector<std::int32_t>> variable_map;

  std::int64_t n_cliques() const { return std::int64_t(offset.size()) - 1; }
  std::int64_t size(int c) const { return offset[std::size_t(c) + 1] - offset[std::size_t(c)]; }
  /// Throws std::invalid_argument unless every index is in range for these cards and
  /// families (the maps come from Python; a bad one must not write out of bounds).
  void check(const std::vector<int>& cards, const std::vector<Family>& families) const;
};

/// What EM's E-step sums over the rows.
struct ExpectedCounts {
  std::vector<std::vector<double>> counts;  ///< per family, FamilyShape's layout
  double log_likelihood = 0;                ///< sum of w * log P(observed part of the row)
  double weight = 0;                        ///< sum of the rows' weights
};

/// The expected counts of every family given each row's observed codes (negative =
/// missing or latent), under the tables `cpts` (FamilyShape's layout) whose products
/// make `potentials` (the cliques' initial tables, laid out by tree.offset). Complete
/// rows are counted directly. weights: one per row or nullptr. Rows of probability zero
/// throw std::domain_error naming the row. Results do not depend on n_threads.
template <class T>
ExpectedCounts expected_counts(const Codes<T>& codes, const std::vector<int>& cards,
                               const std::vector<Family>& families, const std::vector<std::vector<double>>& cpts,
                               const JunctionTree& tree, const std::vector<double>& potentials,
                               const double* weights, int n_threads);

/// For every row, log P(observed cells) into log_likelihood[row] (-inf for a row of
/// probability zero) and, for each variable in `targets`, its posterior marginal into
/// marginals[row * width + ...], the targets' states one after another (width = the sum of
/// their cards); an observed target gets the indicator of its state. Needs the tree's
/// variable maps. Results do not depend on n_threads.
template <class T>
void row_posteriors(const Codes<T>& codes, const std::vector<int>& cards, const std::vector<Family>& families,
                    const std::vector<std::vector<double>>& cpts, const JunctionTree& tree,
                    const std::vector<double>& potentials, const std::vector<int>& targets, double* log_likelihood,
                    double* marginals, int n_threads);

}  // namespace scalegen::bayesnet
