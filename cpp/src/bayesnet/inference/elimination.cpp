#include "scalegen/bayesnet/elimination.hpp"

#include <algorithm>
#include <functional>
#include <queue>
#include <stdexcept>
#include <string>
#include <tuple>

#include "scalegen/common/limits.hpp"
#include "scalegen/common/parallel.hpp"

namespace scalegen::bayesnet {

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("variable elimination: " + what);
}

[[noreturn]] void impossible() {
  throw std::domain_error("the evidence has probability zero");
}

// A table over `vars` (local ids, C order): `data` points into `own` or at a network table.
struct Factor {
  std::vector<int> vars;
  std::vector<double> own;
  const double* data = nullptr;
};

// A max-product step: x maximized out, the scope left, and x's best state at each of its cells.
struct Step {
  int x;
  std::vector<int> scope;
  std::vector<std::int32_t> best;
};

// Products of at least this many factor reads are split over threads.
constexpr std::int64_t kParallelWork = std::int64_t(1) << 16;
// The greedy heuristic compares orders when the min-fill order creates more factor cells.
constexpr double kCompareOrdersCells = double(1 << 16);

std::int64_t cells_of(const std::vector<int>& vars, const std::vector<int>& cards) {
  const std::int64_t cap = get_limits().max_tensor_bytes / 8 + 1;  // below it, no product overflows
  std::int64_t cells = 1;
  for (int v : vars) {
    cells *= cards[std::size_t(v)];
    if (cells > cap) break;
  }
  try {
    check_tensor_bytes(cells, 8, "a factor over " + std::to_string(vars.size()) + " variables");
  } catch (const LimitError& e) {
    throw LimitError(std::string(e.what()) +
                     "; or query fewer variables at a time (joint=False) or use ApproximateInference");
  }
  return cells;
}

// out[cell] = the sum over x's states (or the maximum, its argmax into best) of the product of
// the group's factors, for every cell of out_vars (C order); x < 0: the product alone.
void multiply(const std::vector<const Factor*>& group, const std::vector<int>& out_vars, int x,
              const std::vector<int>& cards, std::vector<double>& out, std::vector<std::int32_t>* best, int n_threads) {
  const std::size_t nf = group.size(), nd = out_vars.size();
  std::vector<std::int64_t> stride(nd * nf, 0), x_stride(nf, 0);
  for (std::size_t f = 0; f < nf; ++f) {
    std::int64_t s = 1;
    const auto& vars = group[f]->vars;
    for (std::size_t k = vars.size(); k-- > 0;) {
      const int v = vars[k];
      if (v == x) x_stride[f] = s;
      for (std::size_t d = 0; d < nd; ++d)
        if (out_vars[d] == v) stride[d * nf + f] = s;
      s *= cards[std::size_t(v)];
    }
  }
  const std::int64_t n_out = cells_of(out_vars, cards);
  const int n_x = x < 0 ? 1 : cards[std::size_t(x)];
  out.assign(std::size_t(n_out), 0.0);
  if (best) best->assign(std::size_t(n_out), 0);

  // Rows along the last axis of out: per row, each factor is read along that axis into a
  // product (loops the compiler vectorizes), summed or maximized over x's states.
  const std::int64_t width = nd ? cards[std::size_t(out_vars[nd - 1])] : 1, n_rows = n_out / width;
  const std::size_t outer = nd ? nd - 1 : 0;
  std::vector<std::int64_t> along(nf, 0);
  if (nd)
    for (std::size_t f = 0; f < nf; ++f) along[f] = stride[outer * nf + f];
  const auto run = [&](std::int64_t begin, std::int64_t end) {
    std::vector<int> digit(outer, 0);
    std::vector<std::int64_t> idx(nf, 0);
    std::vector<double> term(static_cast<std::size_t>(width)), acc(static_cast<std::size_t>(width));
    for (std::int64_t r = begin, d = std::int64_t(outer); d-- > 0;) {
      const int card = cards[std::size_t(out_vars[std::size_t(d)])];
      digit[std::size_t(d)] = int(r % card);
      r /= card;
      for (std::size_t f = 0; f < nf; ++f) idx[f] += digit[std::size_t(d)] * stride[std::size_t(d) * nf + f];
    }
    for (std::int64_t row = begin; row < end; ++row) {
      double* o = out.data() + row * width;
      std::int32_t* arg = best ? best->data() + row * width : nullptr;
      std::fill(acc.begin(), acc.end(), best ? -1.0 : 0.0);
      for (int s = 0; s < n_x; ++s) {
        for (std::size_t f = 0; f < nf; ++f) {
          const double* p = group[f]->data + idx[f] + s * x_stride[f];
          const std::int64_t step = along[f];
          if (f == 0) {
            for (std::int64_t j = 0; j < width; ++j) term[std::size_t(j)] = p[j * step];
          } else {
            for (std::int64_t j = 0; j < width; ++j) term[std::size_t(j)] *= p[j * step];
          }
        }
        if (nf == 0) std::fill(term.begin(), term.end(), 1.0);
        if (arg) {
          for (std::int64_t j = 0; j < width; ++j)
            if (term[std::size_t(j)] > acc[std::size_t(j)]) acc[std::size_t(j)] = term[std::size_t(j)], arg[j] = s;
        } else {
          for (std::int64_t j = 0; j < width; ++j) acc[std::size_t(j)] += term[std::size_t(j)];
        }
      }
      std::copy(acc.begin(), acc.end(), o);
      for (std::size_t d = outer; d-- > 0;) {  // the odometer over the other axes
        const std::int64_t* st = stride.data() + d * nf;
        for (std::size_t f = 0; f < nf; ++f) idx[f] += st[f];
        if (++digit[d] < cards[std::size_t(out_vars[d])]) break;
        for (std::size_t f = 0; f < nf; ++f) idx[f] -= digit[d] * st[f];
        digit[d] = 0;
      }
    }
  };
  const std::int64_t work = n_out * n_x * std::int64_t(nf);
  if (work < kParallelWork || n_rows < 2) return run(0, n_rows);
  const std::int64_t parts = std::min<std::int64_t>(n_rows, std::max<std::int64_t>(1, work / kParallelWork));
  parallel_for(n_threads, parts, [&](std::int64_t p) {
    const auto [a, b] = split_range(n_rows, parts, p);
    run(a, b);
  });
}

// Divides by the largest entry so that long chains of small probabilities cannot underflow
// (answers are normalized at the end); an all-zero table means impossible evidence.
void rescale(std::vector<double>& values) {
  const double top = values.empty() ? 0.0 : *std::max_element(values.begin(), values.end());
  if (!(top > 0)) impossible();
  const double inv = 1.0 / top;
  for (double& v : values) v *= inv;
}

// The interaction graph of the factors over n local variables: sorted neighbour lists.
std::vector<std::vector<int>> interaction_graph(const std::vector<Factor>& factors, int n) {
  std::vector<std::vector<int>> adj(static_cast<std::size_t>(n));
  for (const auto& f : factors)
    for (int u : f.vars)
      for (int v : f.vars)
        if (u != v) adj[std::size_t(u)].push_back(v);
  for (auto& a : adj) {
    std::sort(a.begin(), a.end());
    a.erase(std::unique(a.begin(), a.end()), a.end());
  }
  return adj;
}

// Greedy elimination order over `eliminate` in the graph `adj` (which also holds the variables
// kept to the end). Eliminating a variable connects its neighbours: their scores are
// recomputed, and a fill edge a-b lowers the fill of the common neighbours of a and b. Ties go
// to the smaller new factor, then to the lower id (local ids follow the network's order).
// cells: the sum of the sizes of the products the order forms.
std::vector<int> greedy_order(std::vector<std::vector<int>> adj, const std::vector<int>& eliminate,
                              const std::vector<int>& cards, EliminationHeuristic h, double& cells) {
  using Key = std::tuple<double, double, int>;
  const std::size_t n = adj.size();
  const bool fills = h == EliminationHeuristic::min_fill || h == EliminationHeuristic::weighted_min_fill;
  std::vector<int> stamp(n, -1);
  int token = 0;
  const auto edge_weight = [&](int a, int b) {
    return h == EliminationHeuristic::min_fill ? 1.0 : double(cards[std::size_t(a)]) * cards[std::size_t(b)];
  };
  const auto score = [&](int v) -> Key {
    const auto& nb = adj[std::size_t(v)];
    double weight = 1;
    for (int u : nb) weight *= cards[std::size_t(u)];
    if (h == EliminationHeuristic::min_neighbors) return {double(nb.size()), weight, v};
    if (h == EliminationHeuristic::min_weight) return {weight, double(nb.size()), v};
    double fill = 0;  // the missing pairs among v's neighbours (weighted: by their cards)
    for (std::size_t i = 0; i < nb.size(); ++i) {
      ++token;
      for (int w : adj[std::size_t(nb[i])]) stamp[std::size_t(w)] = token;
      for (std::size_t j = i + 1; j < nb.size(); ++j)
        if (stamp[std::size_t(nb[j])] != token) fill += edge_weight(nb[i], nb[j]);
    }
    return {fill, weight, v};
  };
  std::vector<Key> current(n);
  std::vector<char> pending(n, 0);
  std::priority_queue<Key, std::vector<Key>, std::greater<Key>> heap;
  for (int v : eliminate) {
    pending[std::size_t(v)] = 1;
    current[std::size_t(v)] = score(v);
    heap.push(current[std::size_t(v)]);
  }
  std::vector<int> order;
  cells = 0;
  std::vector<std::pair<int, int>> added;
  std::vector<double> lowered(n, 0.0);
  std::vector<int> touched;
  while (!heap.empty()) {
    const Key key = heap.top();
    heap.pop();
    const int v = std::get<2>(key);
    if (!pending[std::size_t(v)] || current[std::size_t(v)] != key) continue;  // stale
    pending[std::size_t(v)] = 0;
    order.push_back(v);
    const std::vector<int> nb = std::move(adj[std::size_t(v)]);
    double product = cards[std::size_t(v)];
    for (int u : nb) product *= cards[std::size_t(u)];
    cells += product;
    adj[std::size_t(v)].clear();
    added.clear();
    for (int u : nb) {
      auto& au = adj[std::size_t(u)];
      au.erase(std::lower_bound(au.begin(), au.end(), v));
      ++token;
      for (int w : au) stamp[std::size_t(w)] = token;
      const std::size_t before = au.size();
      for (int w : nb)
        if (w != u && stamp[std::size_t(w)] != token) {
          au.push_back(w);
          if (u < w) added.emplace_back(u, w);
        }
      if (au.size() != before) std::sort(au.begin(), au.end());
    }
    if (fills) {
      ++token;
      const int in_nb = token;
      for (int u : nb) stamp[std::size_t(u)] = in_nb;
      touched.clear();
      for (const auto& [a, b] : added) {
        // common neighbours of a and b outside nb: both lists are sorted
        const auto& la = adj[std::size_t(a)];
        const auto& lb = adj[std::size_t(b)];
        for (std::size_t i = 0, j = 0; i < la.size() && j < lb.size();) {
          if (la[i] < lb[j]) {
            ++i;
          } else if (lb[j] < la[i]) {
            ++j;
          } else {
            const int c = la[i];
            if (stamp[std::size_t(c)] != in_nb && pending[std::size_t(c)]) {
              if (lowered[std::size_t(c)] == 0) touched.push_back(c);
              lowered[std::size_t(c)] += edge_weight(a, b);
            }
            ++i, ++j;
          }
        }
      }
      for (int c : touched) {
        auto& k = current[std::size_t(c)];
        k = {std::get<0>(k) - lowered[std::size_t(c)], std::get<1>(k), c};
        lowered[std::size_t(c)] = 0;
        heap.push(k);
      }
    }
    for (int u : nb)
      if (pending[std::size_t(u)]) {
        current[std::size_t(u)] = score(u);
        heap.push(current[std::size_t(u)]);
      }
  }
  return order;
}

// Sums (with a trace: maximizes, recording each Step) the variables of `order` out of the
// product of `factors` and returns the factors left, all over variables not eliminated.
std::vector<Factor> eliminate(std::vector<Factor> factors, const std::vector<int>& order, int n_local,
                              const std::vector<int>& cards, std::vector<Step>* trace, int n_threads) {
  std::vector<std::vector<std::size_t>> holding(static_cast<std::size_t>(n_local));
  std::vector<char> alive(factors.size(), 1);
  for (std::size_t i = 0; i < factors.size(); ++i)
    for (int v : factors[i].vars) holding[std::size_t(v)].push_back(i);
  std::vector<const Factor*> group;
  std::vector<char> seen(std::size_t(n_local), 0);
  for (int x : order) {
    group.clear();
    std::vector<int> scope;
    for (std::size_t i : holding[std::size_t(x)]) {
      if (!alive[i]) continue;
      alive[i] = 0;
      group.push_back(&factors[i]);
      for (int v : factors[i].vars)
        if (v != x && !seen[std::size_t(v)]) seen[std::size_t(v)] = 1, scope.push_back(v);
    }
    holding[std::size_t(x)].clear();
    for (int v : scope) seen[std::size_t(v)] = 0;
    Factor result;
    Step step{x, scope, {}};
    multiply(group, scope, x, cards, result.own, trace ? &step.best : nullptr, n_threads);
    rescale(result.own);
    if (trace) trace->push_back(std::move(step));
    if (scope.empty()) continue;  // a positive constant: the answer is normalized
    result.vars = std::move(scope);
    result.data = result.own.data();
    for (int v : result.vars) holding[std::size_t(v)].push_back(factors.size());
    // moving a Factor keeps its buffer (data stays valid); the group's pointers are not
    // used after this point
    factors.push_back(std::move(result));
    alive.push_back(1);
  }
  std::vector<Factor> left;
  for (std::size_t i = 0; i < factors.size(); ++i)
    if (alive[i]) left.push_back(std::move(factors[i]));
  return left;
}

// One query's factors: the network's tables for the ancestors of `seeds`, sliced at the
// evidence, over local ids numbered in the network's order.
struct Reduced {
  std::vector<Factor> factors;
  std::vector<char> positive;  // per factor: no zero in it
  std::vector<int> local;      // network id -> local id (-1: not in the query)
  std::vector<int> global;     // local id -> network id
  std::vector<int> cards;      // per local id
};

Reduced reduce(const std::vector<int>& cards, const std::vector<std::vector<int>>& scopes,
               const std::vector<std::vector<double>>& tables, const std::vector<std::vector<int>>& parents,
               const std::vector<char>& positive, const std::vector<int>& seeds, const Evidence& evidence) {
  const std::size_t n = cards.size();
  std::vector<int> state(n, -1);
  for (const auto& [v, s] : evidence) {
    require(v >= 0 && std::size_t(v) < n && s >= 0 && s < cards[std::size_t(v)], "evidence out of range");
    state[std::size_t(v)] = s;
  }
  std::vector<char> mark(n, 0);
  std::vector<int> stack;
  for (int v : seeds) {
    require(v >= 0 && std::size_t(v) < n, "a variable out of range");
    if (!mark[std::size_t(v)]) mark[std::size_t(v)] = 1, stack.push_back(v);
  }
  for (const auto& [v, s] : evidence)
    if (!mark[std::size_t(v)]) mark[std::size_t(v)] = 1, stack.push_back(v);
  std::vector<int> ancestral;
  while (!stack.empty()) {
    const int v = stack.back();
    stack.pop_back();
    ancestral.push_back(v);
    for (int p : parents[std::size_t(v)])
      if (!mark[std::size_t(p)]) mark[std::size_t(p)] = 1, stack.push_back(p);
  }
  std::sort(ancestral.begin(), ancestral.end());
  Reduced r;
  r.local.assign(n, -1);
  for (int v : ancestral)
    if (state[std::size_t(v)] < 0) {
      r.local[std::size_t(v)] = int(r.global.size());
      r.global.push_back(v);
      r.cards.push_back(cards[std::size_t(v)]);
    }
  for (int v : ancestral) {
    const auto& scope = scopes[std::size_t(v)];
    const auto& table = tables[std::size_t(v)];
    Factor f;
    std::int64_t base = 0, stride = 1;
    std::vector<std::int64_t> strides(scope.size());
    for (std::size_t k = scope.size(); k-- > 0;) {
      strides[k] = stride;
      const int s = state[std::size_t(scope[k])];
      if (s >= 0) base += s * stride;
      stride *= cards[std::size_t(scope[k])];
    }
    std::vector<std::int64_t> kept_strides;
    for (std::size_t k = 0; k < scope.size(); ++k)
      if (state[std::size_t(scope[k])] < 0) {
        f.vars.push_back(r.local[std::size_t(scope[k])]);
        kept_strides.push_back(strides[k]);
      }
    if (f.vars.size() == scope.size()) {  // nothing observed: the network's table as it is
      f.data = table.data();
      r.positive.push_back(positive[std::size_t(v)]);
    } else {
      if (f.vars.empty()) {  // a constant: the answer is normalized
        if (!(table[std::size_t(base)] > 0)) impossible();
        continue;
      }
      std::int64_t size = 1;
      for (int u : f.vars) size *= r.cards[std::size_t(u)];
      f.own.resize(std::size_t(size));
      std::vector<int> digit(f.vars.size(), 0);
      std::int64_t at = base;
      for (std::int64_t c = 0; c < size; ++c) {
        f.own[std::size_t(c)] = table[std::size_t(at)];
        for (std::size_t d = f.vars.size(); d-- > 0;) {
          at += kept_strides[d];
          if (++digit[d] < r.cards[std::size_t(f.vars[d])]) break;
          at -= digit[d] * kept_strides[d];
          digit[d] = 0;
        }
      }
      f.data = f.own.data();
      r.positive.push_back(std::all_of(f.own.begin(), f.own.end(), [](double p) { return p > 0; }));
    }
    r.factors.push_back(std::move(f));
  }
  return r;
}

// The order to eliminate `which` (local ids): the heuristic's on the query's interaction graph
// `adj` (variables in other components do not change it), or the given order's (network ids)
// restricted to them, which must name them all.
std::vector<int> order_for(const Reduced& r, const std::vector<std::vector<int>>& adj, const std::vector<int>& which,
                           EliminationHeuristic h, const std::vector<int>& given) {
  if (given.empty()) {
    double cells = 0;
    if (h != EliminationHeuristic::greedy) return greedy_order(adj, which, r.cards, h, cells);
    auto best = greedy_order(adj, which, r.cards, EliminationHeuristic::min_fill, cells);
    if (cells <= kCompareOrdersCells) return best;
    for (auto other : {EliminationHeuristic::weighted_min_fill, EliminationHeuristic::min_weight}) {
      double other_cells = 0;
      auto order = greedy_order(adj, which, r.cards, other, other_cells);
      if (other_cells < cells) best = std::move(order), cells = other_cells;
    }
    return best;
  }
  std::vector<char> wanted(r.cards.size(), 0);
  for (int v : which) wanted[std::size_t(v)] = 1;
  std::vector<int> order;
  for (int g : given) {
    require(g >= 0 && std::size_t(g) < r.local.size(), "the order names a variable out of range");
    const int v = r.local[std::size_t(g)];
    if (v >= 0 && wanted[std::size_t(v)]) wanted[std::size_t(v)] = 0, order.push_back(v);
  }
  require(order.size() == which.size(), "the elimination order must name every variable it eliminates");
  return order;
}

}  // namespace

EliminationNetwork::EliminationNetwork(std::vector<int> cards, std::vector<std::vector<int>> scopes,
                                       std::vector<std::vector<double>> tables)
    : cards_(std::move(cards)), scopes_(std::move(scopes)), tables_(std::move(tables)) {
  const std::size_t n = cards_.size();
  require(scopes_.size() == n && tables_.size() == n, "one scope and one table per variable");
  parents_.resize(n);
  positive_.resize(n);
  for (std::size_t v = 0; v < n; ++v) {
    require(cards_[v] >= 1, "every variable needs a state");
    const auto& scope = scopes_[v];
    require(!scope.empty() && scope[0] == int(v), "a table's first axis is its own variable");
    std::int64_t size = 1;
    for (int u : scope) {
      require(u >= 0 && std::size_t(u) < n, "a scope names a variable out of range");
      size = checked_mul(size, cards_[std::size_t(u)], "a table's size");
    }
    require(std::int64_t(tables_[v].size()) == size, "a table's size does not match its scope");
    parents_[v].assign(scope.begin() + 1, scope.end());
    positive_[v] = std::all_of(tables_[v].begin(), tables_[v].end(), [](double p) { return p > 0; });
  }
}

std::vector<double> EliminationNetwork::posterior(const std::vector<int>& keep, const Evidence& evidence,
                                                  EliminationHeuristic heuristic, const std::vector<int>& order,
                                                  int n_threads) const {
  require(!keep.empty(), "no query variables");
  Reduced r = reduce(cards_, scopes_, tables_, parents_, positive_, keep, evidence);
  const int m = int(r.cards.size());
  std::vector<int> keep_local;
  std::vector<char> is_keep(std::size_t(m), 0);
  for (int v : keep) {
    const int l = r.local[std::size_t(v)];
    require(l >= 0, "a query variable is observed");
    require(!is_keep[std::size_t(l)], "a query variable repeats");
    is_keep[std::size_t(l)] = 1;
    keep_local.push_back(l);
  }
  const auto adj = interaction_graph(r.factors, m);
  if (!order.empty()) {  // an explicit order must name every unobserved variable of the query
    std::vector<int> all;
    for (int v = 0; v < m; ++v)
      if (!is_keep[std::size_t(v)]) all.push_back(v);
    order_for(r, adj, all, heuristic, order);
  }
  // The variables connected to the query once the evidence is removed; the others only
  // scale the answer, and need eliminating only when a zero could make the evidence impossible.
  std::vector<char> reached(std::size_t(m), 0);
  std::vector<int> stack;
  for (int v : keep_local) reached[std::size_t(v)] = 1, stack.push_back(v);
  while (!stack.empty()) {
    const int v = stack.back();
    stack.pop_back();
    for (int u : adj[std::size_t(v)])
      if (!reached[std::size_t(u)]) reached[std::size_t(u)] = 1, stack.push_back(u);
  }
  std::vector<Factor> near, far;
  bool far_zeros = false;
  for (std::size_t i = 0; i < r.factors.size(); ++i) {
    const bool is_near = reached[std::size_t(r.factors[i].vars[0])] != 0;
    far_zeros = far_zeros || (!is_near && !r.positive[i]);
    (is_near ? near : far).push_back(std::move(r.factors[i]));
  }
  if (far_zeros) {
    std::vector<int> which;
    for (int v = 0; v < m; ++v)
      if (!reached[std::size_t(v)]) which.push_back(v);
    const auto plan = order_for(r, adj, which, heuristic, order);
    eliminate(std::move(far), plan, m, r.cards, nullptr, n_threads);
  }
  std::vector<int> which;
  for (int v = 0; v < m; ++v)
    if (reached[std::size_t(v)] && !is_keep[std::size_t(v)]) which.push_back(v);
  const auto plan = order_for(r, adj, which, heuristic, order);
  const auto left = eliminate(std::move(near), plan, m, r.cards, nullptr, n_threads);
  std::vector<const Factor*> group;
  for (const auto& f : left) group.push_back(&f);
  std::vector<double> joint;
  multiply(group, keep_local, -1, r.cards, joint, nullptr, n_threads);
  double total = 0;
  for (double p : joint) total += p;
  if (!(total > 0)) impossible();
  for (double& p : joint) p /= total;
  return joint;
}

std::vector<int> EliminationNetwork::elimination_order(const std::vector<int>& keep, const Evidence& evidence,
                                                       EliminationHeuristic heuristic) const {
  const Reduced r = reduce(cards_, scopes_, tables_, parents_, positive_, keep, evidence);
  std::vector<char> is_keep(r.cards.size(), 0);
  for (int v : keep)
    if (r.local[std::size_t(v)] >= 0) is_keep[std::size_t(r.local[std::size_t(v)])] = 1;
  std::vector<int> which;
  for (int v = 0; v < int(r.cards.size()); ++v)
    if (!is_keep[std::size_t(v)]) which.push_back(v);
  std::vector<int> order = order_for(r, interaction_graph(r.factors, int(r.cards.size())), which, heuristic, {});
  for (int& v : order) v = r.global[std::size_t(v)];
  return order;
}

std::vector<int> EliminationNetwork::most_probable(const Evidence& evidence, EliminationHeuristic heuristic,
                                                   const std::vector<int>& order, int n_threads) const {
  std::vector<int> everyone(cards_.size());
  for (std::size_t v = 0; v < everyone.size(); ++v) everyone[v] = int(v);
  Reduced r = reduce(cards_, scopes_, tables_, parents_, positive_, everyone, evidence);
  const int m = int(r.cards.size());
  std::vector<int> which(static_cast<std::size_t>(m));
  for (int v = 0; v < m; ++v) which[std::size_t(v)] = v;
  const std::vector<int> plan = order_for(r, interaction_graph(r.factors, m), which, heuristic, order);
  std::vector<Step> trace;
  eliminate(std::move(r.factors), plan, m, r.cards, &trace, n_threads);
  std::vector<int> local_state(std::size_t(m), -1);
  for (std::size_t k = trace.size(); k-- > 0;) {
    const Step& s = trace[k];
    std::int64_t cell = 0;
    for (int v : s.scope) cell = cell * r.cards[std::size_t(v)] + local_state[std::size_t(v)];
    local_state[std::size_t(s.x)] = s.best[std::size_t(cell)];
  }
  std::vector<int> out(cards_.size(), -1);
  for (int v = 0; v < m; ++v) out[std::size_t(r.global[std::size_t(v)])] = local_state[std::size_t(v)];
  return out;
}

template <class T>
void EliminationNetwork::most_probable_rows(const Codes<T>& codes, EliminationHeuristic heuristic, std::int32_t* out,
                                            int n_threads) const {
  const std::size_t n = cards_.size();
  require(codes.columns.size() == n, "one data column per variable");
  constexpr std::int64_t kRowsPerBlock = 64;
  const std::int64_t blocks = (codes.n_rows + kRowsPerBlock - 1) / kRowsPerBlock;
  std::vector<std::int64_t> failed(std::size_t(blocks), -1);  // per block: its first impossible row
  parallel_for(n_threads, blocks, [&](std::int64_t b) {
    Evidence evidence;
    for (std::int64_t row = b * kRowsPerBlock; row < std::min(codes.n_rows, (b + 1) * kRowsPerBlock); ++row) {
      evidence.clear();
      for (std::size_t v = 0; v < n; ++v)
        if (codes.columns[v][row] >= 0) evidence.emplace_back(int(v), int(codes.columns[v][row]));
      std::vector<int> best;
      try {
        best = most_probable(evidence, heuristic, {}, 1);
      } catch (const std::domain_error&) {
        failed[std::size_t(b)] = row;
        return;
      }
      for (const auto& [v, s] : evidence) best[std::size_t(v)] = s;
      std::copy(best.begin(), best.end(), out + row * std::int64_t(n));
    }
  });
  for (std::int64_t row : failed)
    if (row >= 0)
      throw std::domain_error("row " + std::to_string(row) + " has probability zero under the network's tables");
}

template void EliminationNetwork::most_probable_rows(const Codes<std::int8_t>&, EliminationHeuristic, std::int32_t*,
                                                     int) const;
template void EliminationNetwork::most_probable_rows(const Codes<std::int16_t>&, EliminationHeuristic, std::int32_t*,
                                                     int) const;

}  // namespace scalegen::bayesnet
