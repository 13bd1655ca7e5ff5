#include "scalegen/bayesnet/structure.hpp"

#include "dag_moves.hpp"
#include "family_index.hpp"
#include "row_bits.hpp"
#include "scalegen/common/parallel.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

namespace scalegen::bayesnet {

namespace {

constexpr double kNone = -std::numeric_limits<double>::infinity();
// Families scored per counting pass: bounds the memory of the candidate tables.
constexpr std::size_t kBatch = 1024;
// Largest candidate table counted directly from a base index (dense, 32-bit indices).
constexpr std::int64_t kDirectLimit = std::int64_t(1) << 22;

// The score of a family table whose cell (configuration j, child state k) is count(j * r + k).
// xlogx[c] = c log c for the counts up to its size: BIC's, AIC's and the log-likelihood's
// terms without a log per cell.
template <class Count>
double table_score(Count&& count, std::int64_t r, std::int64_t configs, double n_rows, const HillClimbOptions& opt,
                   const std::vector<double>& xlogx) {
  double seen = 0;  // configurations in the data: BDs needs their number first
  if (opt.score == Score::BDs)
    for (std::int64_t j = 0; j < configs; ++j) {
      double nj = 0;
      for (std::int64_t k = 0; k < r; ++k) nj += count(j * r + k);
      seen += nj > 0 ? 1 : 0;
    }
  const ScoreTerms terms(opt.score, double(r), double(configs), n_rows, opt.equivalent_sample_size, seen);
  const bool cached = opt.score == Score::BIC || opt.score == Score::AIC || opt.score == Score::LogLikelihood;
  const auto term = [&](double c, bool cell) {
    if (cached && c < double(xlogx.size())) return cell ? xlogx[std::size_t(c)] : -xlogx[std::size_t(c)];
    return cell ? terms.cell(c) : terms.config(c);
  };
  double total = terms.constant();
  for (std::int64_t j = 0; j < configs; ++j) {
    double nj = 0;
    for (std::int64_t k = 0; k < r; ++k) {
      const double c = count(j * r + k);
      if (c > 0) total += term(c, true);
      nj += c;
    }
    if (nj > 0) total += term(nj, false);
  }
  return total;
}

// Relative costs, measured on this machine: incrementing a table cell for one row, and
// one AND + popcount of 64 rows' bits.
constexpr double kRowCost = 0.6, kWordCost = 0.15;

// Scores of w's family with each candidate parent x added: small tables by bit sets,
// the others with one base index per row (child state + card * configuration of the
// current parents), which makes each candidate a single pass over (base, x) instead of
// over every parent column.
template <class T>
std::vector<double> score_additions(const Codes<T>& codes, const RowBits& bits, const std::vector<double>& xlogx,
                                    const std::vector<int>& cards, int w, const std::vector<int>& parents,
                                    const std::vector<int>& candidates, const HillClimbOptions& opt) {
  constexpr auto kMissing = ~std::uint32_t(0);
  const std::int64_t n = codes.n_rows, r = cards[std::size_t(w)];
  std::int64_t q = 1;
  for (int p : parents) q *= cards[std::size_t(p)];
  std::vector<double> out(candidates.size());
  std::vector<int> by_bits, by_rows;
  std::vector<std::size_t> bits_at, rows_at;
  for (std::size_t t = 0; t < candidates.size(); ++t) {
    const int x = candidates[t];
    const bool small = bits.usable() && double(r * q) * double(cards[std::size_t(x)] - bits.complete(x)) *
                                                double(bits.words()) * kWordCost < double(n) * kRowCost;
    (small ? by_bits : by_rows).push_back(x);
    (small ? bits_at : rows_at).push_back(t);
  }
  if (!by_bits.empty()) {
    std::vector<std::vector<std::uint64_t>> tables;
    count_additions(bits, cards, w, parents, by_bits, tables, opt.n_threads);
    for (std::size_t t = 0; t < by_bits.size(); ++t) {
      const std::vector<std::uint64_t>& table = tables[t];
      out[bits_at[t]] = table_score([&](std::int64_t k) { return double(table[std::size_t(k)]); }, r,
                                    q * cards[std::size_t(by_bits[t])], double(n), opt, xlogx);
    }
  }
  if (by_rows.empty()) return out;
  std::vector<std::uint32_t> base(static_cast<std::size_t>(n));
  {
    const T* c = codes.columns[std::size_t(w)];
    for (std::int64_t i = 0; i < n; ++i) base[std::size_t(i)] = c[i] < 0 ? kMissing : std::uint32_t(c[i]);
    std::uint32_t stride = std::uint32_t(r);
    for (std::size_t k = parents.size(); k-- > 0;) {
      const T* pc = codes.columns[std::size_t(parents[k])];
      for (std::int64_t i = 0; i < n; ++i) {
        std::uint32_t& b = base[std::size_t(i)];
        b = (b == kMissing || pc[i] < 0) ? kMissing : b + stride * std::uint32_t(pc[i]);
      }
      stride *= std::uint32_t(cards[std::size_t(parents[k])]);
    }
  }
  parallel_for(opt.n_threads, std::int64_t(by_rows.size()), [&](std::int64_t t) {
    const int x = by_rows[std::size_t(t)];
    const std::int64_t cx = cards[std::size_t(x)], configs = q * cx, size = configs * r;
    CellCounts table(std::size_t(size + 1));  // last cell: rows with a missing code
    const T* xc = codes.columns[std::size_t(x)];
    const auto step = std::uint32_t(q * r);
    table.add(n, [&](std::int64_t i) {
      const std::uint32_t b = base[std::size_t(i)];
      return (b == kMissing) | (xc[i] < 0) ? std::size_t(size) : std::size_t(b + step * std::uint32_t(xc[i]));
    });
    out[rows_at[std::size_t(t)]] =
        table_score([&](std::int64_t k) { return double(table[std::size_t(k)]); }, r, configs, double(n), opt, xlogx);
  });
  return out;
}

}  // namespace

template <class T>
std::vector<double> local_scores(const Codes<T>& codes, const std::vector<int>& cards,
                                 const std::vector<Family>& families, Score score, double ess, int n_threads) {
  std::vector<double> out;
  out.reserve(families.size());
  for (std::size_t b = 0; b < families.size(); b += kBatch) {
    const std::vector<Family> batch(families.begin() + std::ptrdiff_t(b),
                                    families.begin() + std::ptrdiff_t(std::min(families.size(), b + kBatch)));
    const auto counts = count_families(codes, cards, batch, nullptr, -1, n_threads);
    for (const FamilyCounts& c : counts) out.push_back(family_score(c, score, double(codes.n_rows), ess));
  }
  return out;
}

// The search state: the DAG, its reachability, the local scores and the cached gains of
// every single-parent change.
template <class T>
class HillClimber {
 public:
  HillClimber(const Codes<T>& codes, const RowBits& bits, const std::vector<double>& xlogx,
              const std::vector<int>& cards, const HillClimbOptions& opt)
      : codes_(codes), bits_(bits), xlogx_(xlogx), cards_(cards), opt_(opt), n_(int(cards.size())), un_(cards.size()),
        adj_(un_ * un_, 0), fixed_(un_ * un_, 0), black_(un_ * un_, 0), white_(un_ * un_, 0),
        parents_(un_), children_(un_), reach_(n_), local_(un_, 0.0), plus_(un_ * un_, kNone),
        minus_(un_ * un_, kNone), tabu_(opt.tabu_length, n_) {
    if (codes.columns.size() != cards.size()) throw std::invalid_argument("one card per data column is required");
    check(opt.start_edges, "start_dag");
    check(opt.fixed_edges, "fixed_edges");
    check(opt.black_list, "black_list");
    check(opt.white_list, "white_list");
    for (const auto& [u, v] : opt.black_list) black_[at(u, v)] = 1;
    for (const auto& [u, v] : opt.white_list) white_[at(u, v)] = 1;
    for (const auto& edges : {opt.start_edges, opt.fixed_edges})
      for (const auto& [u, v] : edges)
        if (!adj_[at(u, v)]) link(u, v);
    for (const auto& [u, v] : opt.fixed_edges) fixed_[at(u, v)] = 1;
    reach_.rebuild(children_);
    for (int v = 0; v < n_; ++v)
      if (reach_(v, v)) throw std::invalid_argument("the start DAG and fixed edges contain a cycle");
    std::vector<int> all(un_);
    for (int v = 0; v < n_; ++v) all[std::size_t(v)] = v;
    rescore(all);
  }

  /// Best-improvement moves until none gains epsilon or the move budget is spent. With
  /// max_tabu > 0 (tabu search), up to max_tabu moves in a row may gain less (the best
  /// non-tabu move is taken anyway) and the search ends on the best DAG it saw.
  void climb(std::int64_t& moves) {
    double best_score = objective();
    std::vector<Edge> best_edges;
    int stale = 0;
    while (moves < opt_.max_iter) {
      const Move m = best_move();
      if (m.u < 0) break;
      // A gain within rounding of 0 is none: with epsilon = 0, reversing a covered edge
      // back and forth would otherwise never end.
      if (m.gain < opt_.epsilon || m.gain <= 1e-12 * std::fabs(score())) {
        if (stale >= opt_.max_tabu) break;
        if (stale++ == 0) best_edges = edges();
      }
      apply(m);
      ++moves;
      if (stale > 0 && objective() > best_score + opt_.epsilon) stale = 0;
      if (stale == 0) best_score = objective();
    }
    if (stale > 0) restore(best_edges);
  }

  double score() const {
    double s = 0;
    for (double x : local_) s += x;
    return s;
  }
  /// What the search maximises: the score plus, for BDs, its graph prior's log(1/2) per
  /// edge (the same for every DAG with as many edges, so climbs compare by it).
  double objective() const {
    double edges = 0;
    for (const auto& c : children_) edges += double(c.size());
    return score() - (opt_.score == Score::BDs ? std::log(2.0) * edges : 0.0);
  }
  std::vector<Edge> edges() const {
    std::vector<Edge> out;
    for (int u = 0; u < n_; ++u)
      for (int v = 0; v < n_; ++v)
        if (adj_[at(u, v)]) out.emplace_back(u, v);
    return out;
  }
  /// Returns to a DAG found earlier, rescoring only the families that differ.
  void restore(const std::vector<Edge>& edges) {
    std::vector<std::vector<int>> old = parents_;
    for (const Edge& e : this->edges()) unlink(e.first, e.second);
    for (const auto& [u, v] : edges) link(u, v);
    reach_.rebuild(children_);
    std::vector<int> changed;
    for (int v = 0; v < n_; ++v) {
      auto a = old[std::size_t(v)], b = parents_[std::size_t(v)];
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      if (a != b) changed.push_back(v);
    }
    if (!changed.empty()) rescore(changed);
  }

  /// Adds the maximum-weight spanning forest of the gains of single additions to the
  /// current families (Chow-Liu's tree when the DAG is empty and the score is the
  /// log-likelihood; with BIC or BDeu, the best tree-shaped network, which leaves out
  /// pairs whose edge would lower the score). Each tree is directed away from its
  /// first node; an edge the constraints forbid that way is tried reversed, else left out.
  void add_forest() {
    struct Pair {
      double gain;
      int a, b;
    };
    std::vector<Pair> pairs;
    for (int a = 0; a < n_; ++a)
      for (int b = a + 1; b < n_; ++b) {
        const double gain = std::max(plus_[at(a, b)], plus_[at(b, a)]);
        if (gain > opt_.epsilon && !adj_[at(a, b)] && !adj_[at(b, a)]) pairs.push_back({gain, a, b});
      }
    std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) { return x.gain > y.gain; });
    std::vector<int> root(un_);
    for (int v = 0; v < n_; ++v) root[std::size_t(v)] = v;
    const auto find = [&](int v) {
      while (root[std::size_t(v)] != v) v = root[std::size_t(v)] = root[std::size_t(root[std::size_t(v)])];
      return v;
    };
    std::vector<std::vector<int>> tree(un_);
    for (const Pair& p : pairs) {
      const int ra = find(p.a), rb = find(p.b);
      if (ra == rb) continue;
      root[std::size_t(std::max(ra, rb))] = std::min(ra, rb);
      tree[std::size_t(p.a)].push_back(p.b);
      tree[std::size_t(p.b)].push_back(p.a);
    }
    std::vector<char> seen(un_, 0);
    std::vector<int> changed, stack;
    for (int s = 0; s < n_; ++s) {
      if (seen[std::size_t(s)]) continue;
      seen[std::size_t(s)] = 1;
      stack.assign(1, s);
      while (!stack.empty()) {
        const int u = stack.back();
        stack.pop_back();
        for (int v : tree[std::size_t(u)]) {
          if (seen[std::size_t(v)]) continue;
          seen[std::size_t(v)] = 1;
          stack.push_back(v);
          for (const auto& [x, y] : {Edge{u, v}, Edge{v, u}})
            if (can_add(x, y)) {
              link(x, y);
              reach_.add_edge(x, y);
              changed.push_back(y);
              break;
            }
        }
      }
    }
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    if (!changed.empty()) rescore(changed);
  }

  /// Up to `count` random legal moves, counted in `moves`: the kick of a random restart.
  /// A deletion or a reversal (the kind drawn first, then the edge; an addition only
  /// while the DAG has no edge): a random addition is mostly undone by the next climb's
  /// first move, and kicks without them reached higher optima on the bench networks.
  void perturb(std::mt19937_64& rng, int count, std::int64_t& moves) {
    for (int i = 0; i < count && moves < opt_.max_iter; ++i) {
      std::vector<Move> legal[3];
      for (int u = 0; u < n_; ++u)
        for (int v : children_[std::size_t(u)])
          if (!fixed_[at(u, v)]) {
            legal[kDelete].push_back({kDelete, u, v, 0});
            if (plus_[at(v, u)] > kNone && can_reverse(u, v)) legal[kReverse].push_back({kReverse, u, v, 0});
          }
      if (legal[kDelete].empty())
        for (int u = 0; u < n_; ++u)
          for (int v = 0; v < n_; ++v)
            if (u != v && plus_[at(u, v)] > kNone && can_add(u, v)) legal[kAdd].push_back({kAdd, u, v, 0});
      std::vector<int> kinds;
      for (int k : {kDelete, kReverse, kAdd})
        if (!legal[k].empty()) kinds.push_back(k);
      if (kinds.empty()) return;
      const auto& pick = legal[kinds[std::size_t(rng() % kinds.size())]];
      apply(pick[std::size_t(rng() % pick.size())]);
      ++moves;
    }
  }

  /// Ties between moves go to the last in the order instead of the first: a second
  /// climb from the same start that orients score-equivalent edges the other way.
  void prefer_last(bool on) { prefer_last_ = on; }

  void clear_tabu() { tabu_ = TabuList(opt_.tabu_length, n_); }

 private:
  struct Move {
    Op op;
    int u, v;
    double gain;
  };

  std::size_t at(int u, int v) const { return std::size_t(u) * un_ + std::size_t(v); }
  void check(const std::vector<Edge>& edges, const char* what) const {
    for (const auto& [u, v] : edges)
      if (u < 0 || v < 0 || u >= n_ || v >= n_ || u == v)
        throw std::invalid_argument(std::string(what) + " has an edge (" + std::to_string(u) + ", " +
                                    std::to_string(v) + ") that is not between two distinct variables");
  }
  void link(int u, int v) {
    adj_[at(u, v)] = 1;
    parents_[std::size_t(v)].push_back(u);
    children_[std::size_t(u)].push_back(v);
  }
  void unlink(int u, int v) {
    adj_[at(u, v)] = 0;
    auto& p = parents_[std::size_t(v)];
    p.erase(std::find(p.begin(), p.end(), u));
    auto& c = children_[std::size_t(u)];
    c.erase(std::find(c.begin(), c.end(), v));
  }
  bool room(int v) const { return opt_.max_indegree < 0 || int(parents_[std::size_t(v)].size()) < opt_.max_indegree; }
  bool can_add(int u, int v) const {
    const std::size_t e = at(u, v);
    return !adj_[e] && !adj_[at(v, u)] && room(v) && !reach_(v, u) && !black_[e] &&
           (opt_.white_list.empty() || white_[e]);
  }
  // u -> v can turn around when no other path leads from u to v.
  bool can_reverse(int u, int v) const {
    if (black_[at(v, u)] || !room(u)) return false;
    for (int c : children_[std::size_t(u)])
      if (c != v && reach_(c, v)) return false;
    return true;
  }

  // Scores of whole families: small tables from the bit sets, the others by counting rows.
  std::vector<double> family_scores(const std::vector<Family>& families) const {
    std::vector<double> out(families.size());
    std::vector<Family> by_bits, by_rows;
    std::vector<std::size_t> bits_at, rows_at;
    for (std::size_t i = 0; i < families.size(); ++i) {
      const double cells = double(family_shape(families[i], cards_).size());
      const bool small = bits_.usable() && cells * double(bits_.words()) * kWordCost <
                                               double(codes_.n_rows) * kRowCost * double(1 + families[i].parents.size());
      (small ? by_bits : by_rows).push_back(families[i]);
      (small ? bits_at : rows_at).push_back(i);
    }
    if (!by_bits.empty()) {
      std::vector<std::vector<std::uint64_t>> tables;
      count_families_bits(bits_, cards_, by_bits, tables, opt_.n_threads);
      for (std::size_t t = 0; t < by_bits.size(); ++t) {
        const FamilyShape shape = family_shape(by_bits[t], cards_);
        const std::vector<std::uint64_t>& table = tables[t];
        out[bits_at[t]] = table_score([&](std::int64_t k) { return double(table[std::size_t(k)]); }, shape.card,
                                      shape.n_configs, double(codes_.n_rows), opt_, xlogx_);
      }
    }
    if (by_rows.empty()) return out;
    const auto scores = local_scores(codes_, cards_, by_rows, opt_.score, opt_.equivalent_sample_size, opt_.n_threads);
    for (std::size_t t = 0; t < by_rows.size(); ++t) out[rows_at[t]] = scores[t];
    return out;
  }

  // local_[w] = score of w's family; plus_[x, w] / minus_[x, w] = gain of adding x to /
  // removing x from w's parents.
  void rescore(const std::vector<int>& nodes) {
    std::vector<Family> families;  // w's own family, then its families without one parent
    std::vector<std::size_t> slot;  // < n: local_[slot]; else minus_[slot - n]
    for (int w : nodes) {
      const auto& pa = parents_[std::size_t(w)];
      families.push_back({w, pa});
      slot.push_back(std::size_t(w));
      for (int x : pa) {
        Family f{w, {}};
        for (int p : pa)
          if (p != x) f.parents.push_back(p);
        families.push_back(std::move(f));
        slot.push_back(un_ + at(x, w));
      }
    }
    // Scores from elsewhere (counted by a cluster's workers): one request per rescore,
    // the additions of every node included.
    const std::size_t own = families.size();
    if (opt_.family_scores)
      for (int w : nodes)
        for (int x = 0; x < n_; ++x) {
          plus_[at(x, w)] = kNone;
          if (x == w || adj_[at(x, w)] || !room(w)) continue;
          families.push_back({w, parents_[std::size_t(w)]});
          families.back().parents.push_back(x);
        }
    const auto scores = opt_.family_scores ? opt_.family_scores(families) : family_scores(families);
    if (scores.size() != families.size())
      throw std::invalid_argument("family_scores returned " + std::to_string(scores.size()) + " scores for " +
                                  std::to_string(families.size()) + " families");
    for (std::size_t i = 0; i < own; ++i)
      if (slot[i] < un_) local_[slot[i]] = scores[i];
    // BDs comes with pgmpy's marginal uniform graph prior: log(1/2) per edge
    const double edge_prior = opt_.score == Score::BDs ? std::log(2.0) : 0.0;
    for (std::size_t i = 0; i < own; ++i)
      if (slot[i] >= un_) minus_[slot[i] - un_] = scores[i] - local_[(slot[i] - un_) % un_] + edge_prior;
    for (std::size_t i = own; i < families.size(); ++i) {
      const int w = families[i].child;
      plus_[at(families[i].parents.back(), w)] = scores[i] - local_[std::size_t(w)] - edge_prior;
    }
    if (opt_.family_scores) return;
    for (int w : nodes) {
      // Tables up to kDirectLimit cells go through score_additions, larger ones through
      // the general (sparse-capable) counting.
      const auto& pa = parents_[std::size_t(w)];
      const FamilyShape shape = family_shape({w, pa}, cards_);
      std::vector<int> small;
      std::vector<Family> large;
      for (int x = 0; x < n_; ++x) {
        plus_[at(x, w)] = kNone;
        if (x == w || adj_[at(x, w)] || !room(w)) continue;
        if (shape.size() <= kDirectLimit / cards_[std::size_t(x)]) {
          small.push_back(x);
        } else {
          large.push_back({w, pa});
          large.back().parents.push_back(x);
        }
      }
      const auto added = score_additions(codes_, bits_, xlogx_, cards_, w, pa, small, opt_);
      for (std::size_t i = 0; i < small.size(); ++i)
        plus_[at(small[i], w)] = added[i] - local_[std::size_t(w)] - edge_prior;
      const auto big = local_scores(codes_, cards_, large, opt_.score, opt_.equivalent_sample_size, opt_.n_threads);
      for (std::size_t i = 0; i < large.size(); ++i)
        plus_[at(large[i].parents.back(), w)] = big[i] - local_[std::size_t(w)] - edge_prior;
    }
  }

  // The best legal move; ties go to the first in (add, delete, reverse) x (u, v) order.
  // Gains within a relative 1e-9 are ties: score-equivalent moves (adding u -> v or
  // v -> u to parentless nodes) differ only by rounding, which must not decide.
  Move best_move() const {
    Move best{kAdd, -1, -1, kNone};
    const auto offer = [&](double gain, Op op, int u, int v) {
      const double tie = 1e-9 * std::max(1.0, std::fabs(best.gain));
      if (best.u < 0 || gain > best.gain + tie || (prefer_last_ && gain >= best.gain - tie)) best = {op, u, v, gain};
    };
    // Cheap filter before the legality checks: near ties pass, offer() decides.
    const auto near = [&](double gain) { return gain > best.gain - 1e-9 * std::max(1.0, std::fabs(best.gain)); };
    for (int u = 0; u < n_; ++u)
      for (int v = 0; v < n_; ++v)
        if (u != v && near(plus_[at(u, v)]) && can_add(u, v) && !tabu_.contains(kAdd, u, v))
          offer(plus_[at(u, v)], kAdd, u, v);
    for (int u = 0; u < n_; ++u)
      for (int v : children_[std::size_t(u)])
        if (!fixed_[at(u, v)] && !tabu_.contains(kDelete, u, v)) offer(minus_[at(u, v)], kDelete, u, v);
    for (int u = 0; u < n_; ++u)
      for (int v : children_[std::size_t(u)]) {
        const double gain = minus_[at(u, v)] + plus_[at(v, u)];
        if (near(gain) && !fixed_[at(u, v)] && !tabu_.contains(kReverse, u, v) &&
            !tabu_.contains(kReverse, v, u) && can_reverse(u, v))
          offer(gain, kReverse, u, v);
      }
    return best;
  }

  void apply(const Move& m) {
    switch (m.op) {
      case kAdd:
        link(m.u, m.v);
        reach_.add_edge(m.u, m.v);
        tabu_.push(kDelete, m.u, m.v);
        rescore({m.v});
        break;
      case kDelete:
        unlink(m.u, m.v);
        reach_.rebuild(children_);
        tabu_.push(kAdd, m.u, m.v);
        rescore({m.v});
        break;
      case kReverse:
        unlink(m.u, m.v);
        link(m.v, m.u);
        reach_.rebuild(children_);
        tabu_.push(kReverse, m.u, m.v);
        rescore({m.u, m.v});
        break;
    }
  }

  const Codes<T>& codes_;
  const RowBits& bits_;
  const std::vector<double>& xlogx_;
  const std::vector<int>& cards_;
  const HillClimbOptions& opt_;
  int n_;
  std::size_t un_;
  std::vector<char> adj_, fixed_, black_, white_;
  std::vector<std::vector<int>> parents_, children_;
  Reachability reach_;
  std::vector<double> local_, plus_, minus_;
  TabuList tabu_;
  bool prefer_last_ = false;
};

template <class T>
HillClimbResult hill_climb(const Codes<T>& codes, const std::vector<int>& cards, const HillClimbOptions& opt) {
  // Bit sets while they take at most a quarter of a GiB or eight times the codes.
  const std::int64_t budget = std::min<std::int64_t>(std::int64_t(1) << 28, 8 * codes.n_rows * std::int64_t(cards.size()) * std::int64_t(sizeof(T)));
  const RowBits bits(codes, cards, budget, opt.n_threads);
  std::vector<double> xlogx(std::size_t(std::min<std::int64_t>(codes.n_rows, std::int64_t(1) << 20) + 1), 0.0);
  for (std::size_t c = 1; c < xlogx.size(); ++c) xlogx[c] = double(c) * std::log(double(c));
  HillClimbResult result;
  std::int64_t& moves = result.n_iter;
  auto search = std::make_unique<HillClimber<T>>(codes, bits, xlogx, cards, opt);
  // Other starts: the same start with ties taken the other way, and the best forest.
  std::vector<std::unique_ptr<HillClimber<T>>> others;
  if (opt.mirror_start) {
    others.push_back(std::make_unique<HillClimber<T>>(*search));
    others.back()->prefer_last(true);
  }
  if (opt.forest_start) {
    others.push_back(std::make_unique<HillClimber<T>>(*search));
    others.back()->add_forest();
  }
  search->climb(moves);
  for (auto& other : others) {
    other->climb(moves);
    if (other->objective() > search->objective() + opt.epsilon) search.swap(other);
  }
  search->prefer_last(false);
  // Each restart kicks a copy of the best climber, so a failed one costs no rescoring.
  std::mt19937_64 rng(opt.seed);
  for (int r = 0; r < opt.n_restarts && moves < opt.max_iter; ++r) {
    auto kicked = std::make_unique<HillClimber<T>>(*search);
    kicked->clear_tabu();
    kicked->perturb(rng, opt.perturbation, moves);
    kicked->climb(moves);
    if (kicked->objective() > search->objective() + opt.epsilon) search.swap(kicked);
  }
  result.score = search->score();
  result.edges = search->edges();
  return result;
}

#define SCALEGEN_INSTANTIATE(T)                                                                                 \
  template std::vector<double> local_scores<T>(const Codes<T>&, const std::vector<int>&,                      \
                                               const std::vector<Family>&, Score, double, int);               \
  template HillClimbResult hill_climb<T>(const Codes<T>&, const std::vector<int>&, const HillClimbOptions&);
SCALEGEN_INSTANTIATE(std::int8_t)
SCALEGEN_INSTANTIATE(std::int16_t)
#undef SCALEGEN_INSTANTIATE

}  // namespace scalegen::bayesnet
