#pragma once
// The hill climber's bookkeeping of the DAG: which nodes reach which, and the tabu list.

#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

namespace scalegen::bayesnet {

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

}  // namespace scalegen::bayesnet
