#pragma once
/// Score-based structure learning: greedy hill climbing over DAGs (add, delete, reverse).

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "scalegen/bayesnet/counting.hpp"

namespace scalegen::bayesnet {

using Edge = std::pair<int, int>;  ///< (parent, child)

struct HillClimbOptions {
  Score score = Score::BIC;
  double equivalent_sample_size = 10;
  int max_indegree = -1;  ///< < 0: unbounded
  int tabu_length = 0;
  int max_tabu = 0;  ///< moves in a row allowed without improvement (0: plain hill climbing)
  std::int64_t max_iter = 1000000;
  double epsilon = 1e-4;
  std::vector<Edge> start_edges;
  std::vector<Edge> fixed_edges;  ///< present from the start, never deleted or reversed
  std::vector<Edge> black_list;   ///< never added (nor created by a reversal)
  std::vector<Edge> white_list;   ///< if not empty, the only edges that may be added
  bool mirror_start = false;  ///< also climb from the start taking ties last; keep the better
  bool forest_start = false;  ///< also climb from the best forest added to the start; keep the better
  int n_restarts = 0;         ///< random restarts from the best DAG, each kicked by `perturbation` random moves
  int perturbation = 1;
  std::uint64_t seed = 0;     ///< the random moves of the restarts
  int n_threads = 1;
  /// If set, the local score of each family comes from here (e.g. counted by a cluster's
  /// workers) instead of from the codes, which may then have no rows.
  std::function<std::vector<double>(const std::vector<Family>&)> family_scores;
};

struct HillClimbResult {
  std::vector<Edge> edges;
  double score = 0;          ///< sum of the local scores of the final DAG
  std::int64_t n_iter = 0;   ///< moves made
};

/// Sum of the local scores of each (child, parents) family; n_samples enters BIC.
template <class T>
std::vector<double> local_scores(const Codes<T>& codes, const std::vector<int>& cards,
                                 const std::vector<Family>& families, Score score, double ess, int n_threads);

/// Greedy hill climbing from start_edges (plus fixed_edges). After each move only the
/// families whose parents changed are rescored (a cache of deltas per (parent, child));
/// acyclicity comes from a reachability matrix kept up to date. Moves are taken in a
/// fixed order with strict improvement, so the result does not depend on n_threads.
/// With max_tabu > 0 this is tabu search: non-improving moves are taken (the tabu list
/// keeps them from being undone) up to max_tabu in a row, and the best DAG seen wins.
template <class T>
HillClimbResult hill_climb(const Codes<T>& codes, const std::vector<int>& cards, const HillClimbOptions& options);

}  // namespace scalegen::bayesnet
