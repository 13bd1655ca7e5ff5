// Ancestral sampling and per-row log-likelihoods.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "family_index.hpp"
#include "scalegen/bayesnet/counting.hpp"
#include "scalegen/common/parallel.hpp"

namespace scalegen::bayesnet {

namespace {

// Rows per random stream: fixed, so the draws do not depend on the thread count.
constexpr std::int64_t kSampleBlock = 4096;
constexpr int kBlock = 1024;

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// xoshiro256++ seeded from splitmix64, one stream per row block.
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t st = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    for (auto& x : s_) x = splitmix64(st);
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  std::uint64_t s_[4];
};

// Cumulative tables, configuration-major: cdf[j * card + s] = P(child <= s | j).
struct Sampler {
  std::int64_t card = 0;
  std::vector<std::int64_t> parent_strides;
  std::vector<double> cdf;
};

Sampler make_sampler(const Family& f, const std::vector<int>& cards, const std::vector<double>& cpt) {
  Sampler sm;
  const FamilyShape shape = family_shape(f, cards);
  if (std::int64_t(cpt.size()) != shape.size())
    throw std::invalid_argument("the table of variable " + std::to_string(f.child) + " has " +
                                std::to_string(cpt.size()) + " cells, expected " + std::to_string(shape.size()));
  sm.card = shape.card;
  std::int64_t stride = 1;
  sm.parent_strides.resize(f.parents.size());
  for (std::size_t i = f.parents.size(); i-- > 0;) {
    sm.parent_strides[i] = stride;
    stride *= cards[std::size_t(f.parents[i])];
  }
  const std::int64_t q = shape.n_configs;
  sm.cdf.resize(cpt.size());
  for (std::int64_t j = 0; j < q; ++j) {
    double acc = 0;
    for (std::int64_t s = 0; s < shape.card; ++s) {
      const double p = cpt[std::size_t(s * q + j)];
      if (!(p >= 0)) throw std::invalid_argument("probabilities must be non-negative numbers");
      acc += p;
      sm.cdf[std::size_t(j * shape.card + s)] = acc;
    }
    if (!(acc > 0)) throw std::invalid_argument("a table column sums to zero");
    // Normalised so that a uniform u in [0, 1) always lands below the last entry; a
    // zero-probability state repeats its predecessor's value and is never drawn.
    double* col = sm.cdf.data() + j * shape.card;
    for (std::int64_t s = 0; s + 1 < shape.card; ++s) col[s] /= acc;
    col[shape.card - 1] = 1.0;
  }
  return sm;
}

// First state whose cumulative probability exceeds u in [0, 1):
// the number of states whose cumulative probability is <= u. Branch-free, since the
// comparisons are as unpredictable as the draws.
inline std::int64_t draw(const double* cdf, std::int64_t card, double u) {
  if (card <= 64) {
    std::int64_t s = 0;
    for (std::int64_t k = 0; k + 1 < card; ++k) s += cdf[k] <= u;
    return s;
  }
  const double* base = cdf;
  std::int64_t len = card;
  while (len > 1) {
    const std::int64_t half = len / 2;
    base = base[half - 1] <= u ? base + half : base;
    len -= half;
  }
  return base - cdf;
}

std::vector<Sampler> make_samplers(const std::vector<int>& cards, const std::vector<Family>& families,
                                   const std::vector<std::vector<double>>& cpts) {
  if (families.size() != cpts.size()) throw std::invalid_argument("one table per family is required");
  std::vector<Sampler> samplers;
  std::vector<char> placed(cards.size(), 0);
  for (std::size_t f = 0; f < families.size(); ++f) {
    for (int p : families[f].parents)
      if (p < 0 || std::size_t(p) >= cards.size() || !placed[std::size_t(p)])
        throw std::invalid_argument("families must come in a topological order");
    samplers.push_back(make_sampler(families[f], cards, cpts[f]));
    placed[std::size_t(families[f].child)] = 1;
  }
  return samplers;
}

}  // namespace

WeightedEstimate likelihood_weighting(const std::vector<int>& cards, const std::vector<Family>& families,
                                      const std::vector<std::vector<double>>& cpts, const std::vector<int>& evidence,
                                      const std::vector<int>& query, std::int64_t n, std::uint64_t seed,
                                      int n_threads) {
  const std::vector<Sampler> samplers = make_samplers(cards, families, cpts);
  if (evidence.size() != cards.size()) throw std::invalid_argument("one evidence code (or -1) per variable");
  if (n < 1) throw std::invalid_argument("the number of samples must be positive");
  std::vector<std::int64_t> offset;  // of each query variable's states in the outputs
  std::int64_t width = 0;
  for (int v : query) {
    if (v < 0 || std::size_t(v) >= cards.size() || evidence[std::size_t(v)] >= 0)
      throw std::invalid_argument("query variables must be unobserved variables of the network");
    offset.push_back(width);
    width += cards[std::size_t(v)];
  }
  const std::int64_t n_blocks = (n + kSampleBlock - 1) / kSampleBlock;
  // Per block: sum w, sum w^2, then per query state sum w 1[state], sum w^2 1[state].
  const std::size_t stride = 2 + 2 * std::size_t(width);
  std::vector<double> partial(std::size_t(n_blocks) * stride, 0.0);
  parallel_for(n_threads, n_blocks, [&](std::int64_t b) {
    Rng rng(seed, std::uint64_t(b));
    const std::int64_t len = std::min(kSampleBlock, n - b * kSampleBlock);
    double* acc = partial.data() + std::size_t(b) * stride;
    std::vector<std::int32_t> code(cards.size());
    for (std::int64_t i = 0; i < len; ++i) {
      double w = 1;
      for (std::size_t f = 0; f < families.size(); ++f) {
        const Sampler& sm = samplers[f];
        std::int64_t config = 0;
        for (std::size_t k = 0; k < families[f].parents.size(); ++k)
          config += std::int64_t(code[std::size_t(families[f].parents[k])]) * sm.parent_strides[k];
        const double* cdf = sm.cdf.data() + config * sm.card;
        const int child = families[f].child, e = evidence[std::size_t(child)];
        if (e >= 0) {
          w *= cdf[e] - (e > 0 ? cdf[e - 1] : 0.0);
          code[std::size_t(child)] = e;
        } else {
          code[std::size_t(child)] = std::int32_t(draw(cdf, sm.card, rng.uniform()));
        }
      }
      acc[0] += w;
      acc[1] += w * w;
      for (std::size_t q = 0; q < query.size(); ++q) {
        const std::size_t cell = 2 + 2 * std::size_t(offset[q] + code[std::size_t(query[q])]);
        acc[cell] += w;
        acc[cell + 1] += w * w;
      }
    }
  });
  std::vector<double> total(stride, 0.0);
  for (std::int64_t b = 0; b < n_blocks; ++b)
    for (std::size_t k = 0; k < stride; ++k) total[k] += partial[std::size_t(b) * stride + k];
  if (!(total[0] > 0)) throw std::invalid_argument("no sample is compatible with the evidence: it may have probability zero");
  WeightedEstimate out;
  out.sum_weight = total[0];
  out.effective_samples = total[0] * total[0] / total[1];
  for (std::int64_t s = 0; s < width; ++s) {
    const double swy = total[2 + 2 * std::size_t(s)], sw2y = total[3 + 2 * std::size_t(s)];
    const double p = swy / total[0];
    // Delta method for the ratio estimator: sum w^2 (y - p)^2 / (sum w)^2, y in {0, 1}.
    const double var = (sw2y - 2 * p * sw2y + p * p * total[1]) / (total[0] * total[0]);
    out.probability.push_back(p);
    out.std_error.push_back(std::sqrt(std::max(var, 0.0)));
  }
  return out;
}

template <class T>
void sample_network(const std::vector<int>& cards, const std::vector<Family>& families,
                    const std::vector<std::vector<double>>& cpts, std::int64_t n, std::uint64_t seed,
                    const std::vector<T*>& out, int n_threads) {
  if (families.size() != cpts.size() || out.size() != cards.size())
    throw std::invalid_argument("one table per family and one output column per variable are required");
  const std::vector<Sampler> samplers = make_samplers(cards, families, cpts);
  const std::int64_t n_blocks = (n + kSampleBlock - 1) / kSampleBlock;
  parallel_for(n_threads, n_blocks, [&](std::int64_t b) {
    Rng rng(seed, std::uint64_t(b));
    const std::int64_t begin = b * kSampleBlock, len = std::min(kSampleBlock, n - begin);
    std::vector<std::int64_t> config(static_cast<std::size_t>(len));
    for (std::size_t f = 0; f < families.size(); ++f) {
      const Sampler& sm = samplers[f];
      std::fill(config.begin(), config.end(), 0);
      for (std::size_t k = 0; k < families[f].parents.size(); ++k) {
        const T* c = out[std::size_t(families[f].parents[k])] + begin;
        const std::int64_t s = sm.parent_strides[k];
        for (std::int64_t i = 0; i < len; ++i) config[std::size_t(i)] += std::int64_t(c[i]) * s;
      }
      T* child = out[std::size_t(families[f].child)] + begin;
      for (std::int64_t i = 0; i < len; ++i) {
        const double* cdf = sm.cdf.data() + config[std::size_t(i)] * sm.card;
        child[i] = T(draw(cdf, sm.card, rng.uniform()));
      }
    }
  });
}

template <class T>
void log_likelihood_rows(const Codes<T>& codes, const std::vector<int>& cards, const std::vector<Family>& families,
                         const std::vector<std::vector<double>>& cpts, double* out, int n_threads) {
  if (families.size() != cpts.size()) throw std::invalid_argument("one table per family is required");
  if (codes.columns.size() != cards.size()) throw std::invalid_argument("one card per data column is required");
  std::vector<FamilyPlan<T>> plans;
  std::vector<std::vector<double>> logs(cpts.size());
  for (std::size_t f = 0; f < families.size(); ++f) {
    plans.push_back(make_plan(codes, cards, families[f], std::int64_t(1) << 31));
    if (plans.back().sparse || std::int64_t(cpts[f].size()) != plans.back().shape.size())
      throw std::invalid_argument("the table of variable " + std::to_string(families[f].child) +
                                  " does not match its family's shape");
    logs[f].resize(cpts[f].size());
    for (std::size_t i = 0; i < cpts[f].size(); ++i) logs[f][i] = std::log(cpts[f][i]);
  }
  const std::int64_t n = codes.n_rows, n_blocks = (n + kBlock - 1) / kBlock;
  parallel_for(n_threads, n_blocks, [&](std::int64_t b) {
    const std::int64_t begin = b * kBlock;
    const int len = int(std::min<std::int64_t>(kBlock, n - begin));
    std::uint32_t idx[kBlock];
    double* o = out + begin;
    std::fill(o, o + len, 0.0);
    for (std::size_t f = 0; f < plans.size(); ++f) {
      const auto missing = std::uint32_t(plans[f].shape.size());
      family_indices(plans[f], begin, len, missing, idx);
      const double* lg = logs[f].data();
      for (int i = 0; i < len; ++i) {
        if (idx[i] == missing) throw std::invalid_argument("log-likelihoods need every value observed");
        o[i] += lg[idx[i]];
      }
    }
  });
}

template <class T>
void posterior_rows(const Codes<T>& codes, const std::vector<int>& cards, const std::vector<Family>& families,
                    const std::vector<std::vector<double>>& cpts, const std::vector<int>& hidden, double* marginals,
                    std::int32_t* map, int n_threads) {
  constexpr std::int64_t kMaxConfigs = 1 << 16;
  const std::size_t n_vars = cards.size();
  if (families.size() != cpts.size()) throw std::invalid_argument("one table per family is required");
  if (codes.columns.size() != n_vars) throw std::invalid_argument("one column per variable is required");
  // Joint states of the hidden variables, last varying fastest.
  std::vector<int> hidden_pos(n_vars, -1);
  std::int64_t n_configs = 1, width = 0;
  for (std::size_t h = 0; h < hidden.size(); ++h) {
    const int v = hidden[h];
    if (v < 0 || std::size_t(v) >= n_vars || hidden_pos[std::size_t(v)] >= 0)
      throw std::invalid_argument("hidden variables must be distinct variables");
    hidden_pos[std::size_t(v)] = int(h);
    n_configs *= cards[std::size_t(v)];
    width += cards[std::size_t(v)];
    if (n_configs > kMaxConfigs) throw std::invalid_argument("too many joint states of the hidden variables");
  }
  std::vector<std::int64_t> digit_stride(hidden.size(), 1);
  for (std::size_t h = hidden.size(); h-- > 1;)
    digit_stride[h - 1] = digit_stride[h] * cards[std::size_t(hidden[h])];
  const auto digit = [&](std::int64_t q, std::size_t h) {
    return (q / digit_stride[h]) % cards[std::size_t(hidden[h])];
  };

  // A family's table (log-probabilities if it mentions a hidden variable, else the
  // probabilities, only checked for zero), its observed members (column, stride) and the
  // table offset of every hidden configuration.
  struct Affected {
    std::vector<double> table;
    std::vector<std::pair<const T*, std::int64_t>> observed;
    std::vector<std::int64_t> offset;
  };
  std::vector<Affected> affected, observed_only;
  for (std::size_t f = 0; f < families.size(); ++f) {
    const Family& fam = families[f];
    const FamilyShape shape = family_shape(fam, cards);
    if (std::int64_t(cpts[f].size()) != shape.size())
      throw std::invalid_argument("the table of variable " + std::to_string(fam.child) + " has the wrong size");
    std::vector<std::pair<int, std::int64_t>> members = {{fam.child, shape.n_configs}};
    std::int64_t stride = 1;
    for (std::size_t k = fam.parents.size(); k-- > 0;) {
      members.emplace_back(fam.parents[k], stride);
      stride *= cards[std::size_t(fam.parents[k])];
    }
    bool mentions = false;
    for (const auto& [v, st] : members) mentions = mentions || hidden_pos[std::size_t(v)] >= 0;
    Affected a;
    if (!mentions) {  // fully observed: only checked for probability zero
      for (const auto& [v, st] : members) a.observed.emplace_back(codes.columns[std::size_t(v)], st);
      a.table = cpts[f];
      observed_only.push_back(std::move(a));
      continue;
    }
    a.offset.assign(std::size_t(n_configs), 0);
    for (const auto& [v, st] : members) {
      const int h = hidden_pos[std::size_t(v)];
      if (h < 0) {
        a.observed.emplace_back(codes.columns[std::size_t(v)], st);
        continue;
      }
      for (std::int64_t q = 0; q < n_configs; ++q) a.offset[std::size_t(q)] += digit(q, std::size_t(h)) * st;
    }
    a.table.resize(cpts[f].size());
    for (std::size_t i = 0; i < cpts[f].size(); ++i) a.table[i] = std::log(cpts[f][i]);
    affected.push_back(std::move(a));
  }

  const std::int64_t n = codes.n_rows, n_blocks = (n + kBlock - 1) / kBlock;
  parallel_for(n_threads, n_blocks, [&](std::int64_t b) {
    std::vector<double> lp(static_cast<std::size_t>(n_configs));
    for (std::int64_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
      std::fill(lp.begin(), lp.end(), 0.0);
      for (const Affected& a : affected) {
        std::int64_t base = 0;
        for (const auto& [col, st] : a.observed) {
          if (col[i] < 0) throw std::invalid_argument("row " + std::to_string(i) + " has a missing value");
          base += std::int64_t(col[i]) * st;
        }
        const double* lt = a.table.data() + base;
        for (std::int64_t q = 0; q < n_configs; ++q) lp[std::size_t(q)] += lt[a.offset[std::size_t(q)]];
      }
      bool possible = true;
      for (const Affected& a : observed_only) {
        std::int64_t cell = 0;
        for (const auto& [col, st] : a.observed) {
          if (col[i] < 0) throw std::invalid_argument("row " + std::to_string(i) + " has a missing value");
          cell += std::int64_t(col[i]) * st;
        }
        possible = possible && a.table[std::size_t(cell)] > 0;
      }
      const auto top = std::max_element(lp.begin(), lp.end());
      const double peak = *top;
      const std::int64_t best = top - lp.begin();
      if (!possible || !std::isfinite(peak))
        throw std::invalid_argument("row " + std::to_string(i) + " has probability zero under the model");
      double sum = 0;
      for (double& x : lp) sum += (x = std::exp(x - peak));
      double* m = marginals + i * width;
      std::fill(m, m + width, 0.0);
      for (std::int64_t q = 0; q < n_configs; ++q) {
        std::int64_t off = 0;
        for (std::size_t h = 0; h < hidden.size(); ++h) {
          m[off + digit(q, h)] += lp[std::size_t(q)] / sum;
          off += cards[std::size_t(hidden[h])];
        }
      }
      for (std::size_t h = 0; h < hidden.size(); ++h)
        map[std::size_t(i) * hidden.size() + h] = std::int32_t(digit(best, h));
    }
  });
}

template void posterior_rows<std::int8_t>(const Codes<std::int8_t>&, const std::vector<int>&,
                                          const std::vector<Family>&, const std::vector<std::vector<double>>&,
                                          const std::vector<int>&, double*, std::int32_t*, int);
template void posterior_rows<std::int16_t>(const Codes<std::int16_t>&, const std::vector<int>&,
                                           const std::vector<Family>&, const std::vector<std::vector<double>>&,
                                           const std::vector<int>&, double*, std::int32_t*, int);

template void sample_network<std::int8_t>(const std::vector<int>&, const std::vector<Family>&,
                                          const std::vector<std::vector<double>>&, std::int64_t, std::uint64_t,
                                          const std::vector<std::int8_t*>&, int);
template void sample_network<std::int16_t>(const std::vector<int>&, const std::vector<Family>&,
                                           const std::vector<std::vector<double>>&, std::int64_t, std::uint64_t,
                                           const std::vector<std::int16_t*>&, int);
template void log_likelihood_rows<std::int8_t>(const Codes<std::int8_t>&, const std::vector<int>&,
                                               const std::vector<Family>&, const std::vector<std::vector<double>>&,
                                               double*, int);
template void log_likelihood_rows<std::int16_t>(const Codes<std::int16_t>&, const std::vector<int>&,
                                                const std::vector<Family>&,
                                                const std::vector<std::vector<double>>&, double*, int);

}  // namespace scalegen::bayesnet
