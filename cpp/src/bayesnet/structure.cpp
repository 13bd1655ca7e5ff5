#include "scalegen/bayesnet/structure.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace scalegen::bayesnet {

namespace {

constexpr double kNone = -std::numeric_limits<double>::infinity();
// Families scored per counting pass: bounds the memory of the candidate tables.
constexpr std::size_t kBatch = 1024;

std::int64_t dense_limit(std::int64_t n_rows) {
  return std::max<std::int64_t>(1 << 16, std::min<std::int64_t>(1 << 24, 4 * n_rows));
}

// Reachability by bit rows: reach(a, b) means a path a -> ... -> b of length >= 1.
class Reachability {
 public:
  explicit Reachability(int n) : n_(n), words_((n + 63) / 64), bits_(std::size_t(n) * words_, 0) {}
  bool operator()(int a, int b) const { return (row(a)[b >> 6] >> (b & 63)) & 1; }
  // After adding u -> v: everything reaching u (and u) now reaches v and all v reaches.
  void add_edge(int u, int v) {
    for (int a = 0; a < n_; ++a) {
      if (a != u && !(*this)(a, u)) continue;
      std::uint64_t* r = row(a);
      const std::uint64_t* rv = row(v);
      for (std::size_t w = 0; w < words_; ++w) r[w] |= rv[w];
      r[v >> 6] |= std::uint64_t(1) << (v & 63);
    }
  }
  void rebuild(const std::vector<std::vector<int>>& children) {
    std::fill(bits_.begin(), bits_.end(), 0);
    std::vector<int> stack;
    for (int s = 0; s < n_; ++s) {
      std::uint64_t* r = row(s);
      stack.assign(children[std::size_t(s)].begin(), children[std::size_t(s)].end());
      while (!stack.empty()) {
        const int x = stack.back();
        stack.pop_back();
        if ((r[x >> 6] >> (x & 63)) & 1) continue;
        r[x >> 6] |= std::uint64_t(1) << (x & 63);
        for (int c : children[std::size_t(x)]) stack.push_back(c);
      }
    }
  }

 private:
  std::uint64_t* row(int a) { return bits_.data() + std::size_t(a) * words_; }
  const std::uint64_t* row(int a) const { return bits_.data() + std::size_t(a) * words_; }
  int n_;
  std::size_t words_;
  std::vector<std::uint64_t> bits_;
};

enum Op : int { kAdd = 0, kDelete = 1, kReverse = 2 };

// The last tabu_length moves' inverses, with counts for O(1) membership.
class TabuList {
 public:
  TabuList(int length, int n) : length_(length), n_(n) {}
  void push(Op op, int u, int v) {
    if (length_ <= 0) return;
    const std::int64_t k = key(op, u, v);
    queue_.push_back(k);
    ++count_[k];
    if (int(queue_.size()) > length_) {
      if (--count_[queue_.front()] == 0) count_.erase(queue_.front());
      queue_.pop_front();
    }
  }
  bool contains(Op op, int u, int v) const { return length_ > 0 && count_.count(key(op, u, v)) > 0; }

 private:
  std::int64_t key(Op op, int u, int v) const { return (std::int64_t(op) * n_ + u) * n_ + v; }
  int length_, n_;
  std::deque<std::int64_t> queue_;
  std::unordered_map<std::int64_t, int> count_;
};

}  // namespace

template <class T>
std::vector<double> local_scores(const Codes<T>& codes, const std::vector<int>& cards,
                                 const std::vector<Family>& families, Score score, double ess, int n_threads) {
  std::vector<double> out;
  out.reserve(families.size());
  for (std::size_t b = 0; b < families.size(); b += kBatch) {
    const std::vector<Family> batch(families.begin() + std::ptrdiff_t(b),
                                    families.begin() + std::ptrdiff_t(std::min(families.size(), b + kBatch)));
    const auto counts = count_families(codes, cards, batch, nullptr, dense_limit(codes.n_rows), n_threads);
    for (const FamilyCounts& c : counts) out.push_back(family_score(c, score, double(codes.n_rows), ess));
  }
  return out;
}

template <class T>
HillClimbResult hill_climb(const Codes<T>& codes, const std::vector<int>& cards, const HillClimbOptions& opt) {
  const int n = int(cards.size());
  if (codes.columns.size() != cards.size()) throw std::invalid_argument("one card per data column is required");
  const auto at = [n](int u, int v) { return std::size_t(u) * std::size_t(n) + std::size_t(v); };
  const auto check = [n](const std::vector<Edge>& edges, const char* what) {
    for (const auto& [u, v] : edges)
      if (u < 0 || v < 0 || u >= n || v >= n || u == v)
        throw std::invalid_argument(std::string(what) + " has an edge (" + std::to_string(u) + ", " +
                                    std::to_string(v) + ") that is not between two distinct variables");
  };
  check(opt.start_edges, "start_dag");
  check(opt.fixed_edges, "fixed_edges");
  check(opt.black_list, "black_list");
  check(opt.white_list, "white_list");

  std::vector<char> adj(at(n, 0), 0), fixed(at(n, 0), 0), black(at(n, 0), 0), white(at(n, 0), 0);
  const auto un = static_cast<std::size_t>(n);
  std::vector<std::vector<int>> parents(un), children(un);
  const auto link = [&](int u, int v) {
    adj[at(u, v)] = 1;
    parents[std::size_t(v)].push_back(u);
    children[std::size_t(u)].push_back(v);
  };
  const auto unlink = [&](int u, int v) {
    adj[at(u, v)] = 0;
    auto& p = parents[std::size_t(v)];
    p.erase(std::find(p.begin(), p.end(), u));
    auto& c = children[std::size_t(u)];
    c.erase(std::find(c.begin(), c.end(), v));
  };
  for (const auto& [u, v] : opt.black_list) black[at(u, v)] = 1;
  for (const auto& [u, v] : opt.white_list) white[at(u, v)] = 1;
  for (const auto& edges : {opt.start_edges, opt.fixed_edges})
    for (const auto& [u, v] : edges)
      if (!adj[at(u, v)]) link(u, v);
  for (const auto& [u, v] : opt.fixed_edges) fixed[at(u, v)] = 1;
  Reachability reach(n);
  reach.rebuild(children);
  for (int v = 0; v < n; ++v)
    if (reach(v, v)) throw std::invalid_argument("the start DAG and fixed edges contain a cycle");
  const auto room = [&](int v) {
    return opt.max_indegree < 0 || int(parents[std::size_t(v)].size()) < opt.max_indegree;
  };

  // local[w]: score of w's family; plus[x, w]: gain of adding x to w's parents;
  // minus[x, w]: gain of removing parent x from w.
  std::vector<double> local(un, 0.0), plus(at(n, 0), kNone), minus(at(n, 0), kNone);
  const auto rescore = [&](const std::vector<int>& nodes) {
    std::vector<Family> families;
    std::vector<std::size_t> slot;  // 0..n-1: local; else n + cell of plus/minus
    for (int w : nodes) {
      const auto& pa = parents[std::size_t(w)];
      families.push_back({w, pa});
      slot.push_back(std::size_t(w));
      for (int x = 0; x < n; ++x) {
        if (x == w) continue;
        plus[at(x, w)] = minus[at(x, w)] = kNone;
        if (adj[at(x, w)]) {
          Family f{w, {}};
          for (int p : pa)
            if (p != x) f.parents.push_back(p);
          families.push_back(std::move(f));
          slot.push_back(std::size_t(n) + 2 * at(x, w) + 1);
        } else if (room(w)) {
          Family f{w, pa};
          f.parents.push_back(x);
          families.push_back(std::move(f));
          slot.push_back(std::size_t(n) + 2 * at(x, w));
        }
      }
    }
    const auto scores =
        local_scores(codes, cards, families, opt.score, opt.equivalent_sample_size, opt.n_threads);
    for (std::size_t i = 0; i < families.size(); ++i)
      if (slot[i] < std::size_t(n)) local[slot[i]] = scores[i];
    for (std::size_t i = 0; i < families.size(); ++i) {
      if (slot[i] < std::size_t(n)) continue;
      const std::size_t cell = (slot[i] - std::size_t(n)) / 2;
      const int w = int(cell % std::size_t(n));
      ((slot[i] - std::size_t(n)) % 2 ? minus : plus)[cell] = scores[i] - local[std::size_t(w)];
    }
  };
  std::vector<int> all(un);
  for (int v = 0; v < n; ++v) all[std::size_t(v)] = v;
  rescore(all);

  TabuList tabu(opt.tabu_length, n);
  HillClimbResult result;
  while (result.n_iter < opt.max_iter) {
    double best = kNone;
    Op best_op = kAdd;
    int bu = -1, bv = -1;
    const auto offer = [&](double delta, Op op, int u, int v) {
      if (delta > best) {
        best = delta;
        best_op = op;
        bu = u;
        bv = v;
      }
    };
    for (int u = 0; u < n; ++u)
      for (int v = 0; v < n; ++v) {
        if (u == v) continue;
        const std::size_t e = at(u, v);
        if (!adj[e] && !adj[at(v, u)] && plus[e] > best && !reach(v, u) && !black[e] &&
            (opt.white_list.empty() || white[e]) && !tabu.contains(kAdd, u, v))
          offer(plus[e], kAdd, u, v);
      }
    for (int u = 0; u < n; ++u)
      for (int v : children[std::size_t(u)])
        if (!fixed[at(u, v)] && !tabu.contains(kDelete, u, v)) offer(minus[at(u, v)], kDelete, u, v);
    for (int u = 0; u < n; ++u)
      for (int v : children[std::size_t(u)]) {
        const double delta = minus[at(u, v)] + plus[at(v, u)];
        if (!(delta > best) || fixed[at(u, v)] || black[at(v, u)] || tabu.contains(kReverse, u, v) ||
            tabu.contains(kReverse, v, u))
          continue;
        bool other_path = false;
        for (int c : children[std::size_t(u)]) other_path = other_path || (c != v && reach(c, v));
        if (!other_path) offer(delta, kReverse, u, v);
      }
    if (bu < 0 || best < opt.epsilon) break;
    switch (best_op) {
      case kAdd:
        link(bu, bv);
        reach.add_edge(bu, bv);
        tabu.push(kDelete, bu, bv);
        rescore({bv});
        break;
      case kDelete:
        unlink(bu, bv);
        reach.rebuild(children);
        tabu.push(kAdd, bu, bv);
        rescore({bv});
        break;
      case kReverse:
        unlink(bu, bv);
        link(bv, bu);
        reach.rebuild(children);
        tabu.push(kReverse, bu, bv);
        rescore({bu, bv});
        break;
    }
    ++result.n_iter;
  }
  for (int u = 0; u < n; ++u)
    for (int v = 0; v < n; ++v)
      if (adj[at(u, v)]) result.edges.emplace_back(u, v);
  for (double s : local) result.score += s;
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
