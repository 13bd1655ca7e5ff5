#pragma once
// Mixed-radix indices of a family's rows, shared by counting, sampling and scoring.

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "scalegen/bayesnet/counting.hpp"

namespace scalegen::bayesnet {

// The columns and mixed-radix strides of one family: column 0 is the child.
template <class T>
struct FamilyPlan {
  std::vector<const T*> columns;
  std::vector<std::int64_t> strides;
  std::vector<int> cards;
  FamilyShape shape;
  bool sparse = false;
};

template <class T>
inline FamilyPlan<T> make_plan(const Codes<T>& codes, const std::vector<int>& cards, const Family& f,
                        std::int64_t dense_limit) {
  FamilyPlan<T> p;
  p.shape = family_shape(f, cards);
  p.sparse = p.shape.size() > dense_limit;
  p.columns.push_back(codes.columns[std::size_t(f.child)]);
  p.cards.push_back(cards[std::size_t(f.child)]);
  // Dense index s * q + j; sparse key j * card + s.
  p.strides.push_back(p.sparse ? 1 : p.shape.n_configs);
  std::int64_t stride = p.sparse ? p.shape.card : 1;
  std::vector<std::int64_t> parent_strides(f.parents.size());
  for (std::size_t i = f.parents.size(); i-- > 0;) {
    parent_strides[i] = stride;
    stride *= cards[std::size_t(f.parents[i])];
  }
  for (std::size_t i = 0; i < f.parents.size(); ++i) {
    p.columns.push_back(codes.columns[std::size_t(f.parents[i])]);
    p.cards.push_back(cards[std::size_t(f.parents[i])]);
    p.strides.push_back(parent_strides[i]);
  }
  return p;
}

// idx[i] = flat index of row begin + i, or `missing` when any of the family's codes is
// negative. I is uint32 for dense tables, uint64 for sparse keys. Throws on a code
// beyond its variable's card.
template <class T, class I>
inline void family_indices(const FamilyPlan<T>& p, std::int64_t begin, int len, I missing, I* idx) {
  bool any_missing = false;
  for (std::size_t k = 0; k < p.columns.size(); ++k) {
    const T* c = p.columns[k] + begin;
    const I s = I(p.strides[k]);
    T lo = 0, hi = 0;
    if (k == 0) {
      for (int i = 0; i < len; ++i) idx[i] = I(std::make_unsigned_t<T>(c[i])) * s;
    } else {
      for (int i = 0; i < len; ++i) idx[i] += I(std::make_unsigned_t<T>(c[i])) * s;
    }
    for (int i = 0; i < len; ++i) {
      lo = std::min(lo, c[i]);
      hi = std::max(hi, c[i]);
    }
    if (int(hi) >= p.cards[k])
      throw std::invalid_argument("code " + std::to_string(int(hi)) + " is out of range for a variable with " +
                                  std::to_string(p.cards[k]) + " states");
    any_missing = any_missing || lo < 0;
  }
  if (!any_missing) return;
  for (std::size_t k = 0; k < p.columns.size(); ++k) {
    const T* c = p.columns[k] + begin;
    for (int i = 0; i < len; ++i)
      if (c[i] < 0) idx[i] = missing;
  }
}

// Integer counts of cells, in four interleaved copies while the table is small:
// consecutive rows often hit the same cell, and with one copy every increment would wait
// for the previous store. Large tables keep one copy (memory, cache).
class CellCounts {
 public:
  explicit CellCounts(std::size_t cells)
      : cells_(cells), copies_(cells <= (std::size_t(1) << 12) ? 4 : 1), counts_(cells * copies_, 0) {}

  /// Counts cell(i) for i in [0, n).
  template <class Cell>
  void add(std::int64_t n, Cell&& cell) {
    std::uint32_t* c0 = counts_.data();
    std::int64_t i = 0;
    if (copies_ == 4) {
      std::uint32_t* c1 = c0 + cells_;
      std::uint32_t* c2 = c1 + cells_;
      std::uint32_t* c3 = c2 + cells_;
      for (; i + 4 <= n; i += 4) {
        ++c0[cell(i)];
        ++c1[cell(i + 1)];
        ++c2[cell(i + 2)];
        ++c3[cell(i + 3)];
      }
    }
    for (; i < n; ++i) ++c0[cell(i)];
  }

  /// The count of a cell, over all copies.
  std::uint32_t operator[](std::size_t k) const {
    std::uint32_t total = 0;
    for (std::size_t c = 0; c < copies_; ++c) total += counts_[c * cells_ + k];
    return total;
  }

 private:
  std::size_t cells_, copies_;
  std::vector<std::uint32_t> counts_;
};

}  // namespace scalegen::bayesnet
