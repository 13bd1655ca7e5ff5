#pragma once
// Rows as bit sets, one per (variable, state). The hill climber's candidate tables are
// small (a few states times a few parent configurations), and for those AND + popcount
// over 64 rows at a time beats incrementing a table once per row.

#include <algorithm>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <cstdint>
#include <vector>

#include "scalegen/bayesnet/counting.hpp"
#include "scalegen/common/parallel.hpp"

namespace scalegen::bayesnet {

class RowBits {
 public:
  RowBits() = default;
  /// Masks of every (variable, state); left empty (usable() false) when they would take
  /// more than max_bytes.
  template <class T>
  RowBits(const Codes<T>& codes, const std::vector<int>& cards, std::int64_t max_bytes, int n_threads)
      : words_((codes.n_rows + 63) / 64) {
    std::int64_t states = 0;
    for (int c : cards) {
      offset_.push_back(states);
      states += c;
    }
    if (codes.n_rows == 0 || states * words_ > max_bytes / 8) return;
    bits_.assign(std::size_t(states * words_), 0);
    complete_.assign(cards.size(), 1);
    parallel_for(n_threads, std::int64_t(cards.size()), [&](std::int64_t j) {
      const T* c = codes.columns[std::size_t(j)];
      std::uint64_t* base = bits_.data() + offset_[std::size_t(j)] * words_;
      for (std::int64_t i = 0; i < codes.n_rows; ++i) {
        if (c[i] < 0) {
          complete_[std::size_t(j)] = 0;
          continue;
        }
        base[std::int64_t(c[i]) * words_ + (i >> 6)] |= std::uint64_t(1) << (i & 63);
      }
    });
  }

  bool usable() const { return !bits_.empty(); }
  std::int64_t words() const { return words_; }
  const std::uint64_t* mask(int var, int state) const {
    return bits_.data() + (offset_[std::size_t(var)] + state) * words_;
  }
  /// No missing value in the column: its states' masks cover every row.
  bool complete(int var) const { return complete_[std::size_t(var)] != 0; }

 private:
  std::int64_t words_ = 0;
  std::vector<std::int64_t> offset_;
  std::vector<std::uint64_t> bits_;
  std::vector<char> complete_;
};

namespace row_bits_detail {

inline std::uint64_t ones(std::uint64_t x) { return std::uint64_t(__builtin_popcountll(x)); }

inline std::uint64_t and_popcount_scalar(const std::uint64_t* a, const std::uint64_t* b, std::int64_t n) {
  std::uint64_t s0 = 0, s1 = 0;
  std::int64_t i = 0;
  for (; i + 2 <= n; i += 2) {
    s0 += ones(a[i] & b[i]);
    s1 += ones(a[i + 1] & b[i + 1]);
  }
  if (i < n) s0 += ones(a[i] & b[i]);
  return s0 + s1;
}

#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
// Eight words per instruction where the CPU has VPOPCNTQ (Ice Lake and later); the
// AVX-512 build chooses at run time, as x86-64-v4 does not include it.
__attribute__((target("avx512f,avx512vpopcntdq"))) inline std::uint64_t and_popcount_avx512(
    const std::uint64_t* a, const std::uint64_t* b, std::int64_t n) {
  __m512i acc = _mm512_setzero_si512();
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i))));
  std::uint64_t s = std::uint64_t(_mm512_reduce_add_epi64(acc));
  for (; i < n; ++i) s += ones(a[i] & b[i]);
  return s;
}

inline std::uint64_t and_popcount(const std::uint64_t* a, const std::uint64_t* b, std::int64_t n) {
  static const bool vpopcnt = __builtin_cpu_supports("avx512vpopcntdq");
  return vpopcnt ? and_popcount_avx512(a, b, n) : and_popcount_scalar(a, b, n);
}
#else
inline std::uint64_t and_popcount(const std::uint64_t* a, const std::uint64_t* b, std::int64_t n) {
  return and_popcount_scalar(a, b, n);
}
#endif

}  // namespace row_bits_detail

/// For each candidate x, the counts of cell b + r * q * (state of x), where
/// b = (state of w) + r * (configuration of parents, the last parent fastest) as in the
/// hill climber's tables: r = card(w), q = product of the parents' cards. tables[t] gets
/// r * q * card(x) cells. Rows missing any of the family's values are not counted.
inline void count_additions(const RowBits& bits, const std::vector<int>& cards, int w,
                            const std::vector<int>& parents, const std::vector<int>& candidates,
                            std::vector<std::vector<std::uint64_t>>& tables, int n_threads) {
  using row_bits_detail::and_popcount;
  constexpr std::int64_t kBlock = 256;  // words per block: 16,384 rows, the masks stay in L1/L2
  const std::int64_t r = cards[std::size_t(w)];
  std::int64_t q = 1;
  for (int p : parents) q *= cards[std::size_t(p)];
  const std::int64_t step = r * q;
  tables.resize(candidates.size());
  for (std::size_t t = 0; t < candidates.size(); ++t)
    tables[t].assign(std::size_t(r * q * cards[std::size_t(candidates[t])]), 0);
  const std::int64_t parts = std::min<std::int64_t>(std::max(n_threads, 1), std::int64_t(candidates.size()));
  parallel_for(n_threads, parts, [&](std::int64_t part) {
    const auto [c0, c1] = split_range(std::int64_t(candidates.size()), parts, part);
    // Nonempty configurations of (w, parents) in this block: their cell b and mask.
    std::vector<std::int64_t> cell, next_cell;
    std::vector<std::uint64_t> mask, next_mask;
    std::vector<std::uint64_t> total;
    for (std::int64_t w0 = 0; w0 < bits.words(); w0 += kBlock) {
      const std::int64_t len = std::min(kBlock, bits.words() - w0);
      cell.clear();
      mask.clear();
      for (std::int64_t s = 0; s < r; ++s) {
        const std::uint64_t* m = bits.mask(w, int(s)) + w0;
        cell.push_back(s);
        mask.insert(mask.end(), m, m + len);
      }
      std::int64_t stride = r;
      for (std::size_t k = parents.size(); k-- > 0;) {
        const int p = parents[k];
        next_cell.clear();
        next_mask.clear();
        for (std::size_t e = 0; e < cell.size(); ++e)
          for (int v = 0; v < cards[std::size_t(p)]; ++v) {
            const std::uint64_t* a = mask.data() + std::int64_t(e) * len;
            const std::uint64_t* b = bits.mask(p, v) + w0;
            const std::size_t at = next_mask.size();
            next_mask.resize(at + std::size_t(len));
            std::uint64_t any = 0;
            for (std::int64_t i = 0; i < len; ++i) any |= next_mask[at + std::size_t(i)] = a[i] & b[i];
            if (any) {
              next_cell.push_back(cell[e] + stride * v);
            } else {
              next_mask.resize(at);
            }
          }
        stride *= cards[std::size_t(p)];
        cell.swap(next_cell);
        mask.swap(next_mask);
      }
      total.resize(cell.size());
      for (std::size_t e = 0; e < cell.size(); ++e) {
        const std::uint64_t* a = mask.data() + std::int64_t(e) * len;
        total[e] = and_popcount(a, a, len);
      }
      for (std::int64_t t = c0; t < c1; ++t) {
        const int x = candidates[std::size_t(t)];
        const int cx = cards[std::size_t(x)];
        // With no missing x, its last state is what the others leave.
        const int counted = bits.complete(x) ? cx - 1 : cx;
        std::uint64_t* table = tables[std::size_t(t)].data();
        for (std::size_t e = 0; e < cell.size(); ++e) {
          const std::uint64_t* a = mask.data() + std::int64_t(e) * len;
          std::uint64_t rest = total[e];
          for (int v = 0; v < counted; ++v) {
            const std::uint64_t n = and_popcount(a, bits.mask(x, v) + w0, len);
            table[cell[e] + step * v] += n;
            rest -= n;
          }
          if (counted < cx) table[cell[e] + step * (cx - 1)] += rest;
        }
      }
    }
  });
}

}  // namespace scalegen::bayesnet
