#pragma once
/// Exact single queries by variable elimination: P(query | evidence) and the most probable
/// joint state of all unobserved variables.
///
/// A query keeps the ancestors of its query and evidence variables (the others sum to 1),
/// slices their tables at the evidence, keeps the factors connected to the query variables
/// once the evidence is removed (d-separation: the rest only scales the answer) and
/// eliminates the others in a greedy order chosen on that pruned graph.

#include <cstdint>
#include <utility>
#include <vector>

#include "scalegen/bayesnet/counting.hpp"

namespace scalegen::bayesnet {

/// greedy: the min-fill order, or when its factors would be large, whichever of the min-fill,
/// weighted min-fill and min-weight orders creates the fewest factor cells.
enum class EliminationHeuristic { min_fill, weighted_min_fill, min_neighbors, min_weight, greedy };

/// (variable, state) pairs of the observed variables.
using Evidence = std::vector<std::pair<int, int>>;

class EliminationNetwork {
 public:
  /// scopes[v] = (v, parents of v...): the axes of tables[v], a flat C-order table with the
  /// cards of those variables. Throws std::invalid_argument for inconsistent input.
  EliminationNetwork(std::vector<int> cards, std::vector<std::vector<int>> scopes,
                     std::vector<std::vector<double>> tables);

  /// P(keep | evidence), normalized, as a flat C-order table over `keep`'s axes. `order`
  /// empty: the heuristic's greedy order; otherwise eliminated in that order (it must name
  /// every unobserved ancestor of keep and evidence that is not in keep). Throws
  /// std::domain_error when the evidence has probability zero, LimitError when a factor
  /// would exceed max_tensor_bytes. Large products run on n_threads; the result does not
  /// depend on it.
  std::vector<double> posterior(const std::vector<int>& keep, const Evidence& evidence, EliminationHeuristic heuristic,
                                const std::vector<int>& order, int n_threads) const;

  /// The most probable state of every unobserved variable given the evidence (max-product
  /// elimination, then the traceback; ties go to the first state); observed variables get -1.
  std::vector<int> most_probable(const Evidence& evidence, EliminationHeuristic heuristic,
                                 const std::vector<int>& order, int n_threads) const;

  /// most_probable for every row of `codes` (one column per variable, negative = missing)
  /// into out[row * n_variables() + v], the observed codes copied; threads over rows. A row
  /// of probability zero throws std::domain_error naming the first such row.
  template <class T>
  void most_probable_rows(const Codes<T>& codes, EliminationHeuristic heuristic, std::int32_t* out,
                          int n_threads) const;

  /// The heuristic's order (network ids) for eliminating every unobserved ancestor of keep
  /// and evidence that is not in keep, on the graph of their tables sliced at the evidence.
  std::vector<int> elimination_order(const std::vector<int>& keep, const Evidence& evidence,
                                     EliminationHeuristic heuristic) const;

  int n_variables() const { return int(cards_.size()); }

 private:
  std::vector<int> cards_;
  std::vector<std::vector<int>> scopes_;
  std::vector<std::vector<double>> tables_;
  std::vector<std::vector<int>> parents_;
  std::vector<char> positive_;  ///< tables without a zero
};

}  // namespace scalegen::bayesnet
