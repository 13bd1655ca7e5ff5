#include "scalegen/bayesnet/junction_tree.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "scalegen/common/parallel.hpp"

namespace scalegen::bayesnet {

namespace {

void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("junction tree: ") + what);
}

bool map_fits(const std::vector<std::int32_t>& map, std::int64_t len, std::int64_t target) {
  return std::int64_t(map.size()) == len &&
         std::all_of(map.begin(), map.end(), [&](std::int32_t k) { return k >= 0 && k < target; });
}

// Rows per part of the reduction: each part's counts are added in part order.
constexpr std::int64_t kRowsPerPart = 1024;

// A clique's axes: (variable, stride) in C order.
using Layout = std::vector<std::pair<int, std::int64_t>>;

std::vector<Layout> layouts(const JunctionTree& tree, const std::vector<int>& cards) {
  std::vector<Layout> out(tree.clique_vars.size());
  for (std::size_t c = 0; c < out.size(); ++c) {
    std::int64_t stride = 1;
    for (std::size_t k = tree.clique_vars[c].size(); k-- > 0;) {
      const int v = tree.clique_vars[c][k];
      out[c].insert(out[c].begin(), {v, stride});
      stride *= cards[std::size_t(v)];
    }
  }
  return out;
}

// One thread's tables while it calibrates rows: for each clique the entries that agree with
// the row (indices into the clique's table) and their values.
struct Workspace {
  std::vector<std::vector<std::int32_t>> entries;
  std::vector<std::vector<double>> values;
  std::vector<double> messages, fresh, scale;
  std::vector<std::int64_t> message_at;
  explicit Workspace(const JunctionTree& tree)
      : entries(std::size_t(tree.n_cliques())), values(std::size_t(tree.n_cliques())), scale(tree.messages.size()) {
    std::int64_t total = 0, widest = 0;
    for (const auto& m : tree.messages) {
      message_at.push_back(total);
      total += m.separator_size;
      widest = std::max(widest, m.separator_size);
    }
    messages.resize(std::size_t(total));
    fresh.resize(std::size_t(widest));
  }
};

// The cell of a complete row in a family's table (FamilyShape's layout).
template <class T>
std::int64_t complete_cell(const Codes<T>& codes, std::int64_t row, const std::vector<int>& cards, const Family& f,
                           const FamilyShape& shape) {
  std::int64_t j = 0;
  for (int p : f.parents) j = j * cards[std::size_t(p)] + codes.columns[std::size_t(p)][row];
  return std::int64_t(codes.columns[std::size_t(f.child)][row]) * shape.n_configs + j;
}

// After calibration every clique sums to `total`, and P(evidence) = total * exp(log_scale).
struct Calibrated {
  double total = 0, log_scale = 0;
  bool possible() const { return total > 0; }
  double log_probability() const { return std::log(total) + log_scale; }
};

// The entries of clique c that agree with the row's observed codes, with their initial values.
template <class T>
void restrict_clique(const Codes<T>& codes, std::int64_t row, const std::vector<int>& cards, const Layout& layout,
                     const double* initial, std::vector<std::int32_t>& entries, std::vector<double>& values) {
  std::int64_t base = 0;
  entries.clear();
  for (const auto& [v, stride] : layout) {
    const T code = codes.columns[std::size_t(v)][row];
    if (code >= 0) base += std::int64_t(code) * stride;
  }
  entries.push_back(std::int32_t(base));
  for (const auto& [v, stride] : layout) {  // each unobserved axis multiplies the entries
    if (codes.columns[std::size_t(v)][row] >= 0) continue;
    const std::size_t m = entries.size();
    for (int s = 1; s < cards[std::size_t(v)]; ++s)
      for (std::size_t e = 0; e < m; ++e) entries.push_back(std::int32_t(entries[e] + s * stride));
  }
  values.resize(entries.size());
  for (std::size_t e = 0; e < entries.size(); ++e) values[e] = initial[entries[e]];
}

// Calibrates the tree on the entries that agree with one row (collect, then distribute).
template <class T>
Calibrated calibrate(const Codes<T>& codes, std::int64_t row, const std::vector<int>& cards, const JunctionTree& tree,
                     const std::vector<Layout>& layout, const std::vector<double>& initial, Workspace& ws) {
  for (std::size_t c = 0; c < layout.size(); ++c)
    restrict_clique(codes, row, cards, layout[c], initial.data() + tree.offset[c], ws.entries[c], ws.values[c]);
  Calibrated out;
  double scales = 1;
  for (std::size_t k = 0; k < tree.messages.size(); ++k) {  // collect
    const auto& m = tree.messages[k];
    double* sep = ws.messages.data() + ws.message_at[k];
    std::fill(sep, sep + m.separator_size, 0.0);
    const auto& ce = ws.entries[std::size_t(m.child)];
    const auto& cv = ws.values[std::size_t(m.child)];
    for (std::size_t e = 0; e < ce.size(); ++e) sep[m.child_map[std::size_t(ce[e])]] += cv[e];
    // every message is rescaled to a largest entry of 1, so that no product of messages
    // underflows (a clique receiving 100 messages of 1e-4 would); the scales' product is
    // folded into a log only when it gets small, not once per message
    const double top = *std::max_element(sep, sep + m.separator_size);
    if (!(top > 0)) return out;
    const double inv = 1.0 / top;
    for (std::int64_t s = 0; s < m.separator_size; ++s) sep[s] *= inv;
    ws.scale[k] = top;
    scales *= top;
    if (scales < 1e-200 || scales > 1e200) {
      out.log_scale += std::log(scales);
      scales = 1;
    }
    const auto& pe = ws.entries[std::size_t(m.parent)];
    auto& pv = ws.values[std::size_t(m.parent)];
    for (std::size_t e = 0; e < pe.size(); ++e) pv[e] *= sep[m.parent_map[std::size_t(pe[e])]];
  }
  out.log_scale += std::log(scales);
  for (double x : ws.values[std::size_t(tree.root)]) out.total += x;
  if (!out.possible()) return out;
  for (std::size_t k = tree.messages.size(); k-- > 0;) {  // distribute
    const auto& m = tree.messages[k];
    const double* old = ws.messages.data() + ws.message_at[k];
    double* fresh = ws.fresh.data();
    std::fill(fresh, fresh + m.separator_size, 0.0);
    const auto& pe = ws.entries[std::size_t(m.parent)];
    const auto& pv = ws.values[std::size_t(m.parent)];
    for (std::size_t e = 0; e < pe.size(); ++e) fresh[m.parent_map[std::size_t(pe[e])]] += pv[e];
    // the child's own marginal on the separator was top * old: make it the parent's
    const double top = ws.scale[k];
    for (std::int64_t s = 0; s < m.separator_size; ++s) fresh[s] = old[s] > 0 ? fresh[s] / (top * old[s]) : 0.0;
    const auto& ce = ws.entries[std::size_t(m.child)];
    auto& cv = ws.values[std::size_t(m.child)];
    for (std::size_t e = 0; e < ce.size(); ++e) cv[e] *= fresh[m.child_map[std::size_t(ce[e])]];
  }
  return out;
}

}  // namespace

void JunctionTree::check(const std::vector<int>& cards, const std::vector<Family>& families) const {
  require(offset.size() >= 2 && offset[0] == 0, "no cliques");
  for (std::size_t c = 0; c + 1 < offset.size(); ++c)
    require(offset[c + 1] > offset[c] && offset[c + 1] - offset[c] < (std::int64_t(1) << 31), "bad clique sizes");
  const std::int64_t n = n_cliques();
  require(root >= 0 && root < n, "bad root");
  require(std::int64_t(clique_vars.size()) == n, "one variable list per clique is required");
  for (std::int64_t c = 0; c < n; ++c) {
    std::int64_t cells = 1;
    int last = -1;
    for (int v : clique_vars[std::size_t(c)]) {
      require(v > last && std::size_t(v) < cards.size() && cards[std::size_t(v)] >= 1, "bad clique variables");
      cells *= cards[std::size_t(v)];
      last = v;
    }
    require(cells == size(int(c)), "a clique's table does not fit its variables");
  }
  for (const Message& m : messages) {
    require(m.child >= 0 && m.child < n && m.parent >= 0 && m.parent < n && m.child != m.parent, "bad message");
    require(m.separator_size >= 1, "empty separator");
    require(map_fits(m.child_map, size(m.child), m.separator_size) &&
                map_fits(m.parent_map, size(m.parent), m.separator_size),
            "bad separator map");
  }
  require(family_clique.size() == families.size() && family_map.size() == families.size(), "bad family maps");
  for (std::size_t f = 0; f < families.size(); ++f) {
    const int c = family_clique[f];
    require(c >= 0 && c < n, "bad family clique");
    require(map_fits(family_map[f], size(c), family_shape(families[f], cards).size()), "bad family map");
  }
  require(variable_clique.size() == variable_map.size() &&
              (variable_clique.empty() || variable_clique.size() == cards.size()),
          "bad variable maps");
  for (std::size_t v = 0; v < variable_clique.size(); ++v) {
    const int c = variable_clique[v];
    require(c >= 0 && c < n && map_fits(variable_map[v], size(c), cards[v]), "bad variable map");
  }
}

// The families' shapes, once the data, tables, tree and potentials are known to fit together.
template <class T>
std::vector<FamilyShape> checked_shapes(const Codes<T>& codes, const std::vector<int>& cards,
                                        const std::vector<Family>& families,
                                        const std::vector<std::vector<double>>& cpts, const JunctionTree& tree,
                                        const std::vector<double>& potentials) {
  require(codes.columns.size() == cards.size(), "one data column per variable is required");
  require(families.size() == cpts.size(), "one table per family is required");
  tree.check(cards, families);
  require(std::int64_t(potentials.size()) == tree.offset.back(), "the potentials do not fit the cliques");
  std::vector<FamilyShape> shapes;
  for (std::size_t f = 0; f < families.size(); ++f) {
    shapes.push_back(family_shape(families[f], cards));
    require(std::int64_t(cpts[f].size()) == shapes.back().size(), "a table does not fit its family");
  }
  return shapes;
}

template <class T>
ExpectedCounts expected_counts(const Codes<T>& codes, const std::vector<int>& cards,
                               const std::vector<Family>& families, const std::vector<std::vector<double>>& cpts,
                               const JunctionTree& tree, const std::vector<double>& potentials,
                               const double* weights, int n_threads) {
  const std::vector<FamilyShape> shapes = checked_shapes(codes, cards, families, cpts, tree, potentials);
  std::vector<std::int64_t> at{0};  // family f's counts at [at[f], at[f + 1]) of a flat vector
  for (const FamilyShape& shape : shapes) at.push_back(at.back() + shape.size());
  const std::int64_t n = codes.n_rows, parts = (n + kRowsPerPart - 1) / kRowsPerPart;
  const int threads = resolve_threads(n_threads);
  const std::int64_t alive = std::max<std::int64_t>(1, 2 * threads);
  std::vector<std::vector<double>> partial(std::size_t(std::min(alive, std::max<std::int64_t>(parts, 1))));
  std::vector<double> partial_ll(partial.size()), partial_w(partial.size());
  const std::vector<Layout> layout = layouts(tree, cards);
  std::vector<Workspace> spaces;
  for (int t = 0; t < threads; ++t) spaces.emplace_back(tree);
  std::vector<std::int64_t> bad_row(partial.size());
  ExpectedCounts out;
  std::vector<double> total(std::size_t(at.back()), 0.0);
  parallel_reduce_ordered(
      threads, parts,
      [&](std::int64_t slot, std::int64_t part) {
        std::vector<double>& acc = partial[std::size_t(slot)];
        acc.assign(std::size_t(at.back()), 0.0);
        double ll = 0, wsum = 0;
        bad_row[std::size_t(slot)] = -1;
        Workspace& ws = spaces[std::size_t(detail::current_thread_num() % threads)];
        const std::int64_t r1 = std::min(n, (part + 1) * kRowsPerPart);
        for (std::int64_t r = part * kRowsPerPart; r < r1; ++r) {
          const double w = weights ? weights[r] : 1.0;
          if (w == 0) continue;  // a row of weight zero adds nothing, even when impossible
          wsum += w;
          bool complete = true;
          for (std::size_t v = 0; v < cards.size() && complete; ++v) complete = codes.columns[v][r] >= 0;
          if (complete) {  // one cell per family
            for (std::size_t f = 0; f < families.size(); ++f) {
              const std::int64_t cell = complete_cell(codes, r, cards, families[f], shapes[f]);
              acc[std::size_t(at[f] + cell)] += w;
              ll += w * std::log(cpts[f][std::size_t(cell)]);
            }
            continue;
          }
          const Calibrated cal = calibrate(codes, r, cards, tree, layout, potentials, ws);
          if (!cal.possible()) {
            bad_row[std::size_t(slot)] = r;
            return;
          }
          ll += w * cal.log_probability();
          const double scale = w / cal.total;
          for (std::size_t f = 0; f < families.size(); ++f) {
            const auto c = std::size_t(tree.family_clique[f]);
            double* cell = acc.data() + at[f];
            const auto& map = tree.family_map[f];
            for (std::size_t e = 0; e < ws.entries[c].size(); ++e)
              cell[map[std::size_t(ws.entries[c][e])]] += scale * ws.values[c][e];
          }
        }
        partial_ll[std::size_t(slot)] = ll;
        partial_w[std::size_t(slot)] = wsum;
      },
      [&](std::int64_t slot, std::int64_t) {
        if (bad_row[std::size_t(slot)] >= 0)
          throw std::domain_error("row " + std::to_string(bad_row[std::size_t(slot)]) +
                                  " has probability zero under the current tables");
        const std::vector<double>& acc = partial[std::size_t(slot)];
        for (std::size_t i = 0; i < acc.size(); ++i) total[i] += acc[i];
        out.log_likelihood += partial_ll[std::size_t(slot)];
        out.weight += partial_w[std::size_t(slot)];
      },
      alive);
  for (std::size_t f = 0; f < families.size(); ++f)
    out.counts.emplace_back(total.begin() + at[f], total.begin() + at[f + 1]);
  return out;
}

template <class T>
void row_posteriors(const Codes<T>& codes, const std::vector<int>& cards, const std::vector<Family>& families,
                    const std::vector<std::vector<double>>& cpts, const JunctionTree& tree,
                    const std::vector<double>& potentials, const std::vector<int>& targets, double* log_likelihood,
                    double* marginals, int n_threads) {
  const std::vector<FamilyShape> shapes = checked_shapes(codes, cards, families, cpts, tree, potentials);
  require(targets.empty() || !tree.variable_clique.empty(), "the tree has no variable maps");
  std::vector<std::int64_t> at{0};  // target t's states at [at[t], at[t + 1]) of a row
  for (int v : targets) {
    require(v >= 0 && std::size_t(v) < cards.size(), "bad target");
    at.push_back(at.back() + cards[std::size_t(v)]);
  }
  const std::vector<Layout> layout = layouts(tree, cards);
  const int threads = resolve_threads(n_threads);
  std::vector<Workspace> spaces;
  for (int t = 0; t < threads; ++t) spaces.emplace_back(tree);
  const std::int64_t n = codes.n_rows, width = at.back();
  parallel_for(threads, (n + kRowsPerPart - 1) / kRowsPerPart, [&](std::int64_t part) {
    Workspace& ws = spaces[std::size_t(detail::current_thread_num() % threads)];
    for (std::int64_t r = part * kRowsPerPart; r < std::min(n, (part + 1) * kRowsPerPart); ++r) {
      double* out = marginals + r * width;
      std::fill(out, out + width, 0.0);
      bool complete = true;
      for (std::size_t v = 0; v < cards.size() && complete; ++v) complete = codes.columns[v][r] >= 0;
      if (complete) {  // a product of table entries; every target is observed
        double ll = 0;
        for (std::size_t f = 0; f < families.size(); ++f) {
          ll += std::log(cpts[f][std::size_t(complete_cell(codes, r, cards, families[f], shapes[f]))]);
        }
        log_likelihood[r] = ll;
        for (std::size_t t = 0; t < targets.size(); ++t)
          out[at[t] + codes.columns[std::size_t(targets[t])][r]] = 1.0;
        continue;
      }
      const Calibrated cal = calibrate(codes, r, cards, tree, layout, potentials, ws);
      if (!cal.possible()) {
        log_likelihood[r] = -std::numeric_limits<double>::infinity();
        for (std::int64_t k = 0; k < width; ++k) out[k] = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      log_likelihood[r] = cal.log_probability();
      for (std::size_t t = 0; t < targets.size(); ++t) {
        const auto v = std::size_t(targets[t]);
        if (codes.columns[v][r] >= 0) {  // observed here: its indicator, exactly
          out[at[t] + codes.columns[v][r]] = 1.0;
          continue;
        }
        const auto c = std::size_t(tree.variable_clique[v]);
        const auto& map = tree.variable_map[v];
        for (std::size_t e = 0; e < ws.entries[c].size(); ++e)
          out[at[t] + map[std::size_t(ws.entries[c][e])]] += ws.values[c][e] / cal.total;
      }
    }
  });
}

template void row_posteriors<std::int8_t>(const Codes<std::int8_t>&, const std::vector<int>&,
                                          const std::vector<Family>&, const std::vector<std::vector<double>>&,
                                          const JunctionTree&, const std::vector<double>&, const std::vector<int>&,
                                          double*, double*, int);
template void row_posteriors<std::int16_t>(const Codes<std::int16_t>&, const std::vector<int>&,
                                           const std::vector<Family>&, const std::vector<std::vector<double>>&,
                                           const JunctionTree&, const std::vector<double>&, const std::vector<int>&,
                                           double*, double*, int);

template ExpectedCounts expected_counts<std::int8_t>(const Codes<std::int8_t>&, const std::vector<int>&,
                                                     const std::vector<Family>&,
                                                     const std::vector<std::vector<double>>&, const JunctionTree&,
                                                     const std::vector<double>&, const double*, int);
template ExpectedCounts expected_counts<std::int16_t>(const Codes<std::int16_t>&, const std::vector<int>&,
                                                      const std::vector<Family>&,
                                                      const std::vector<std::vector<double>>&, const JunctionTree&,
                                                      const std::vector<double>&, const double*, int);

}  // namespace scalegen::bayesnet
