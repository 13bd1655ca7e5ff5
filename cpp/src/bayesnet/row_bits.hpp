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

/// The nonempty configurations of a family (w, parents) within one block of words:
/// each one's cell b = (state of w) + r * (configuration of the parents, the last
/// parent fastest), r = card(w), its rows' mask and their number. Rows missing any of
/// the family's values belong to none.
class BlockConfigs {
 public:
  void build(const RowBits& bits, const std::vector<int>& cards, int w, const std::vector<int>& parents,
             std::int64_t w0, std::int64_t len) {
    len_ = len;
    cell_.clear();
    mask_.clear();
    const int r = cards[std::size_t(w)];
    for (int s = 0; s < r; ++s) {
      const std::uint64_t* m = bits.mask(w, s) + w0;
      cell_.push_back(s);
      mask_.insert(mask_.end(), m, m + len);
    }
    std::int64_t stride = r;
    for (std::size_t k = parents.size(); k-- > 0;) {
      const int p = parents[k];
      next_cell_.clear();
      next_mask_.clear();
      for (std::size_t e = 0; e < cell_.size(); ++e)
        for (int v = 0; v < cards[std::size_t(p)]; ++v) {
          const std::uint64_t* a = mask(e);
          const std::uint64_t* b = bits.mask(p, v) + w0;
          const std::size_t at = next_mask_.size();
          next_mask_.resize(at + std::size_t(len));
          std::uint64_t any = 0;
          for (std::int64_t i = 0; i < len; ++i) any |= next_mask_[at + std::size_t(i)] = a[i] & b[i];
          if (any) {
            next_cell_.push_back(cell_[e] + stride * v);
          } else {
            next_mask_.resize(at);
          }
        }
      stride *= cards[std::size_t(p)];
      cell_.swap(next_cell_);
      mask_.swap(next_mask_);
    }
    rows_.resize(cell_.size());
    for (std::size_t e = 0; e < cell_.size(); ++e) rows_[e] = row_bits_detail::and_popcount(mask(e), mask(e), len);
  }
  std::size_t size() const { return cell_.size(); }
  std::int64_t cell(std::size_t e) const { return cell_[e]; }
  const std::uint64_t* mask(std::size_t e) const { return mask_.data() + std::int64_t(e) * len_; }
  std::uint64_t rows(std::size_t e) const { return rows_[e]; }

 private:
  std::int64_t len_ = 0;
  std::vector<std::int64_t> cell_, next_cell_;
  std::vector<std::uint64_t> mask_, next_mask_, rows_;
};

// Words per block: 16,384 rows, so that a family's masks stay in L1/L2.
constexpr std::int64_t kBitsBlock = 256;

/// Each family's table, cell b as BlockConfigs numbers it (card(child) * product of the
/// parents' cards cells).
inline void count_families_bits(const RowBits& bits, const std::vector<int>& cards,
                                const std::vector<Family>& families, std::vector<std::vector<std::uint64_t>>& tables,
                                int n_threads) {
  tables.resize(families.size());
  parallel_for(n_threads, std::int64_t(families.size()), [&](std::int64_t f) {
    const Family& fam = families[std::size_t(f)];
    std::vector<std::uint64_t>& table = tables[std::size_t(f)];
    table.assign(std::size_t(family_shape(fam, cards).size()), 0);
    BlockConfigs configs;
    for (std::int64_t w0 = 0; w0 < bits.words(); w0 += kBitsBlock) {
      configs.build(bits, cards, fam.child, fam.parents, w0, std::min(kBitsBlock, bits.words() - w0));
      for (std::size_t e = 0; e < configs.size(); ++e) table[std::size_t(configs.cell(e))] += configs.rows(e);
    }
  });
}

/// For each candidate x, the table of the family (w, parents + x): cell b + r * q *
/// (state of x) with b as BlockConfigs numbers it and q the product of the parents'
/// cards, r * q * card(x) cells in tables[t].
inline void count_additions(const RowBits& bits, const std::vector<int>& cards, int w,
                            const std::vector<int>& parents, const std::vector<int>& candidates,
                            std::vector<std::vector<std::uint64_t>>& tables, int n_threads) {
  std::int64_t step = cards[std::size_t(w)];
  for (int p : parents) step *= cards[std::size_t(p)];
  tables.resize(candidates.size());
  for (std::size_t t = 0; t < candidates.size(); ++t)
    tables[t].assign(std::size_t(step * cards[std::size_t(candidates[t])]), 0);
  const std::int64_t parts = std::min<std::int64_t>(std::max(n_threads, 1), std::int64_t(candidates.size()));
  parallel_for(n_threads, parts, [&](std::int64_t part) {
    const auto [c0, c1] = split_range(std::int64_t(candidates.size()), parts, part);
    BlockConfigs configs;
    for (std::int64_t w0 = 0; w0 < bits.words(); w0 += kBitsBlock) {
      const std::int64_t len = std::min(kBitsBlock, bits.words() - w0);
      configs.build(bits, cards, w, parents, w0, len);
      for (std::int64_t t = c0; t < c1; ++t) {
        const int x = candidates[std::size_t(t)];
        const int cx = cards[std::size_t(x)];
        // With no missing x, its last state is what the others leave.
        const int counted = bits.complete(x) ? cx - 1 : cx;
        std::uint64_t* table = tables[std::size_t(t)].data();
        for (std::size_t e = 0; e < configs.size(); ++e) {
          std::uint64_t rest = configs.rows(e);
          for (int v = 0; v < counted; ++v) {
            const std::uint64_t n = row_bits_detail::and_popcount(configs.mask(e), bits.mask(x, v) + w0, len);
            table[configs.cell(e) + step * v] += n;
            rest -= n;
          }
          if (counted < cx) table[configs.cell(e) + step * (cx - 1)] += rest;
        }
      }
    }
  });
}

}  // namespace scalegen::bayesnet
