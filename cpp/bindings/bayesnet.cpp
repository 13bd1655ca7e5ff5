#include <pybind11/stl.h>

#include <cstdint>
#include <optional>

#include "bindings.hpp"
#include "scalegen/bayesnet/counting.hpp"
#include "scalegen/bayesnet/elimination.hpp"
#include "scalegen/bayesnet/junction_tree.hpp"
#include "scalegen/bayesnet/structure.hpp"

namespace scalegen::bindings {
namespace {

using namespace scalegen::bayesnet;

using FamilySpec = std::pair<int, std::vector<int>>;

std::vector<Family> to_families(const std::vector<FamilySpec>& specs) {
  std::vector<Family> out;
  for (const auto& [child, parents] : specs) out.push_back({child, parents});
  return out;
}

std::vector<std::vector<double>> to_tables(const std::vector<CArray<double>>& cpts) {
  std::vector<std::vector<double>> out;
  for (const auto& c : cpts) out.push_back(to_vector(c));
  return out;
}

// Calls fn(Codes<T>) for columns that are all int8 or all int16 (1-D, one length).
template <class Fn>
auto with_codes(const std::vector<py::array>& columns, Fn&& fn) {
  if (columns.empty()) throw std::invalid_argument("no data columns");
  const auto visit = [&](auto tag) {
    using T = decltype(tag);
    Codes<T> codes;
    codes.n_rows = columns[0].ndim() == 1 ? columns[0].shape(0) : 0;
    for (const py::array& c : columns) {
      if (!py::isinstance<py::array_t<T>>(c) || c.ndim() != 1 || c.shape(0) != codes.n_rows ||
          (c.strides(0) != sizeof(T) && c.shape(0) > 1))
        throw py::type_error("data columns must be contiguous 1-D arrays of one length and one dtype (int8 or int16)");
      codes.columns.push_back(static_cast<const T*>(c.data()));
    }
    return fn(codes);
  };
  if (py::isinstance<py::array_t<std::int8_t>>(columns[0])) return visit(std::int8_t{});
  return visit(std::int16_t{});
}

py::tuple counts_state(const FamilyCounts& c) {
  return py::make_tuple(c.shape.card, c.shape.n_configs, c.sparse, c.total, c.dense, c.keys, c.values);
}

FamilyCounts counts_from_state(const py::tuple& t) {
  if (t.size() != 7) throw std::invalid_argument("invalid FamilyCounts state");
  FamilyCounts c;
  c.shape.card = t[0].cast<std::int64_t>();
  c.shape.n_configs = t[1].cast<std::int64_t>();
  c.sparse = t[2].cast<bool>();
  c.total = t[3].cast<double>();
  c.dense = t[4].cast<std::vector<double>>();
  c.keys = t[5].cast<std::vector<std::uint64_t>>();
  c.values = t[6].cast<std::vector<double>>();
  if (c.sparse ? c.keys.size() != c.values.size() : std::int64_t(c.dense.size()) != c.shape.size())
    throw std::invalid_argument("invalid FamilyCounts state");
  return c;
}

}  // namespace

void bind_bayesnet(py::module_& m) {
  py::class_<FamilyCounts>(m, "FamilyCounts", py::module_local(),
                           "Weighted counts of one family (child state x parent configuration); merge with +=.")
      .def_property_readonly("card", [](const FamilyCounts& c) { return c.shape.card; })
      .def_property_readonly("n_configs", [](const FamilyCounts& c) { return c.shape.n_configs; })
      .def_readonly("sparse", &FamilyCounts::sparse)
      .def_readonly("total", &FamilyCounts::total)
      .def(
          "to_dense",
          [](const FamilyCounts& c) { return to_numpy(c.to_dense(), {c.shape.card, c.shape.n_configs}); },
          "The (card, n_configs) table of counts.")
      .def(
          "nonzero",
          [](const FamilyCounts& c) {
            std::vector<std::int64_t> j, s;
            std::vector<double> n;
            c.for_each_nonzero([&](std::int64_t jj, std::int64_t ss, double nn) {
              j.push_back(jj);
              s.push_back(ss);
              n.push_back(nn);
            });
            const auto len = py::ssize_t(n.size());
            return py::make_tuple(to_numpy(j, {len}), to_numpy(s, {len}), to_numpy(n, {len}));
          },
          "(configurations, child states, counts) of the nonzero cells.")
      .def(
          "score",
          [](const FamilyCounts& c, const std::string& score, double n_samples, double ess) {
            return family_score(c, parse_score(score), n_samples, ess);
          },
          py::arg("score"), py::arg("n_samples"), py::arg("equivalent_sample_size"),
          "This family's term of a decomposable structure score.")
      .def("merge", &FamilyCounts::merge, py::arg("other"), "Adds the counts of other rows.")
      .def("__iadd__", [](FamilyCounts& c, const FamilyCounts& o) -> FamilyCounts& {
        c.merge(o);
        return c;
      })
      .def(py::pickle(&counts_state, &counts_from_state));

  py::class_<JunctionTree>(m, "JunctionTree", py::module_local(),
                           "A junction tree compiled by scalegen.bayesnet._junction (maps between tables).")
      .def(py::init([](const CArray<std::int64_t>& offset, int root, const std::vector<CArray<std::int32_t>>& clique_vars,
                       const CArray<std::int32_t>& message_ends,
                       const CArray<std::int64_t>& separator_sizes, const std::vector<CArray<std::int32_t>>& child_maps,
                       const std::vector<CArray<std::int32_t>>& parent_maps, const CArray<std::int32_t>& family_clique,
                       const std::vector<CArray<std::int32_t>>& family_maps, const CArray<std::int32_t>& variable_clique,
                       const std::vector<CArray<std::int32_t>>& variable_maps) {
             JunctionTree t;
             t.offset = to_vector(offset);
             t.root = root;
             for (const auto& vars : clique_vars) {
               const auto v = to_vector(vars);
               t.clique_vars.emplace_back(v.begin(), v.end());
             }
             const auto ends = to_vector(message_ends);
             const auto seps = to_vector(separator_sizes);
             if (ends.size() != 2 * seps.size() || child_maps.size() != seps.size() || parent_maps.size() != seps.size())
               throw std::invalid_argument("junction tree: one (child, parent), size and two maps per message");
             for (std::size_t k = 0; k < seps.size(); ++k)
               t.messages.push_back({ends[2 * k], ends[2 * k + 1], seps[k], to_vector(child_maps[k]),
                                     to_vector(parent_maps[k])});
             const auto fc = to_vector(family_clique);
             t.family_clique.assign(fc.begin(), fc.end());
             for (const auto& fm : family_maps) t.family_map.push_back(to_vector(fm));
             const auto vc = to_vector(variable_clique);
             t.variable_clique.assign(vc.begin(), vc.end());
             for (const auto& vm : variable_maps) t.variable_map.push_back(to_vector(vm));
             return t;
           }),
           py::arg("offset"), py::arg("root"), py::arg("clique_vars"),
           py::arg("message_ends"), py::arg("separator_sizes"), py::arg("child_maps"), py::arg("parent_maps"),
           py::arg("family_clique"), py::arg("family_maps"), py::arg("variable_clique"), py::arg("variable_maps"));

  py::enum_<EliminationHeuristic>(m, "EliminationHeuristic", py::module_local())
      .value("min_fill", EliminationHeuristic::min_fill)
      .value("weighted_min_fill", EliminationHeuristic::weighted_min_fill)
      .value("min_neighbors", EliminationHeuristic::min_neighbors)
      .value("min_weight", EliminationHeuristic::min_weight)
      .value("greedy", EliminationHeuristic::greedy);

  py::class_<EliminationNetwork>(m, "EliminationNetwork", py::module_local(),
                                 "A network's tables for exact single queries by variable elimination.")
      .def(py::init([](std::vector<int> cards, std::vector<std::vector<int>> scopes,
                       const std::vector<CArray<double>>& tables) {
             return EliminationNetwork(std::move(cards), std::move(scopes), to_tables(tables));
           }),
           py::arg("cards"), py::arg("scopes"), py::arg("tables"))
      .def(
          "posterior",
          [](const EliminationNetwork& net, const std::vector<int>& keep, const Evidence& evidence,
             EliminationHeuristic heuristic, const std::vector<int>& order, int n_threads) {
            std::vector<double> joint;
            {
              py::gil_scoped_release release;
              joint = net.posterior(keep, evidence, heuristic, order, n_threads);
            }
            return to_numpy(joint, {py::ssize_t(joint.size())});
          },
          py::arg("keep"), py::arg("evidence"), py::arg("heuristic"), py::arg("order"), py::arg("n_threads"),
          "P(keep | evidence) as a flat C-order table over keep's axes.")
      .def(
          "most_probable",
          [](const EliminationNetwork& net, const Evidence& evidence, EliminationHeuristic heuristic,
             const std::vector<int>& order, int n_threads) {
            py::gil_scoped_release release;
            return net.most_probable(evidence, heuristic, order, n_threads);
          },
          py::arg("evidence"), py::arg("heuristic"), py::arg("order"), py::arg("n_threads"),
          "The most probable state of every variable (-1 where observed).")
      .def(
          "most_probable_rows",
          [](const EliminationNetwork& net, const std::vector<py::array>& columns, EliminationHeuristic heuristic,
             int n_threads) {
            return with_codes(columns, [&](const auto& codes) {
              py::array_t<std::int32_t> out({py::ssize_t(codes.n_rows), py::ssize_t(net.n_variables())});
              std::int32_t* p = out.mutable_data();
              {
                py::gil_scoped_release release;
                net.most_probable_rows(codes, heuristic, p, n_threads);
              }
              return out;
            });
          },
          py::arg("columns"), py::arg("heuristic"), py::arg("n_threads"),
          "Per row, the most probable state of every variable given its observed codes (negative = missing).")
      .def("elimination_order", &EliminationNetwork::elimination_order, py::arg("keep"), py::arg("evidence"),
           py::arg("heuristic"), "The heuristic's elimination order for a query (network ids).");

  m.def(
      "bn_row_posteriors",
      [](const std::vector<py::array>& columns, const std::vector<int>& cards, const std::vector<FamilySpec>& families,
         const std::vector<CArray<double>>& cpts, const JunctionTree& tree, const CArray<double>& potentials,
         const std::vector<int>& targets, int n_threads) {
        const std::vector<Family> fams = to_families(families);
        const auto tables = to_tables(cpts);
        const auto initial = to_vector(potentials);
        std::int64_t width = 0;
        for (int v : targets) width += (v >= 0 && std::size_t(v) < cards.size()) ? cards[std::size_t(v)] : 0;
        return with_codes(columns, [&](const auto& codes) {
          py::array_t<double> ll(codes.n_rows);
          py::array_t<double> marginals({py::ssize_t(codes.n_rows), py::ssize_t(width)});
          double* l = ll.mutable_data();
          double* m = marginals.mutable_data();
          {
            py::gil_scoped_release release;
            row_posteriors(codes, cards, fams, tables, tree, initial, targets, l, m, n_threads);
          }
          return py::make_tuple(ll, marginals);
        });
      },
      py::arg("columns"), py::arg("cards"), py::arg("families"), py::arg("cpts"), py::arg("tree"),
      py::arg("potentials"), py::arg("targets"), py::arg("n_threads"),
      "Per row: (log P(observed cells), posterior marginals of the targets, states side by side).");

  m.def(
      "bn_expected_counts",
      [](const std::vector<py::array>& columns, const std::vector<int>& cards, const std::vector<FamilySpec>& families,
         const std::vector<CArray<double>>& cpts, const JunctionTree& tree, const CArray<double>& potentials,
         const std::optional<CArray<double>>& sample_weight, int n_threads) {
        const std::vector<Family> fams = to_families(families);
        const auto tables = to_tables(cpts);
        const auto initial = to_vector(potentials);
        return with_codes(columns, [&](const auto& codes) {
          const double* w = nullptr;
          if (sample_weight) {
            if (sample_weight->ndim() != 1 || sample_weight->shape(0) != codes.n_rows)
              throw std::invalid_argument("sample_weight must have one value per row");
            w = sample_weight->data();
          }
          ExpectedCounts out;
          {
            py::gil_scoped_release release;
            out = expected_counts(codes, cards, fams, tables, tree, initial, w, n_threads);
          }
          py::list counts;
          for (const auto& c : out.counts) counts.append(to_numpy(c, {py::ssize_t(c.size())}));
          return py::make_tuple(counts, out.log_likelihood, out.weight);
        });
      },
      py::arg("columns"), py::arg("cards"), py::arg("families"), py::arg("cpts"), py::arg("tree"),
      py::arg("potentials"), py::arg("sample_weight"), py::arg("n_threads"),
      "EM's E-step: (expected counts per family, sum of w * log P(observed row), sum of w).");

  m.def(
      "bn_count",
      [](const std::vector<py::array>& columns, const std::vector<int>& cards, const std::vector<FamilySpec>& families,
         const std::optional<CArray<double>>& sample_weight, std::int64_t dense_limit, int n_threads) {
        const std::vector<Family> fams = to_families(families);
        return with_codes(columns, [&](const auto& codes) {
          const double* w = nullptr;
          if (sample_weight) {
            if (sample_weight->ndim() != 1 || sample_weight->shape(0) != codes.n_rows)
              throw std::invalid_argument("sample_weight must have one value per row");
            w = sample_weight->data();
          }
          py::gil_scoped_release release;
          return count_families(codes, cards, fams, w, dense_limit, n_threads);
        });
      },
      py::arg("columns"), py::arg("cards"), py::arg("families"), py::arg("sample_weight"), py::arg("dense_limit"),
      py::arg("n_threads"),
      "Counts of every family (child, parents) in one pass over int-coded columns; tables above dense_limit cells "
      "(< 0: scalegen's default for the data size) are counted sparsely.");

  m.def(
      "bn_log_likelihood",
      [](const std::vector<py::array>& columns, const std::vector<int>& cards, const std::vector<FamilySpec>& families,
         const std::vector<CArray<double>>& cpts, int n_threads) {
        const std::vector<Family> fams = to_families(families);
        const auto tables = to_tables(cpts);
        return with_codes(columns, [&](const auto& codes) {
          py::array_t<double> out(codes.n_rows);
          double* o = out.mutable_data();
          {
            py::gil_scoped_release release;
            log_likelihood_rows(codes, cards, fams, tables, o, n_threads);
          }
          return out;
        });
      },
      py::arg("columns"), py::arg("cards"), py::arg("families"), py::arg("cpts"), py::arg("n_threads"),
      "Per-row log-likelihood of fully observed int-coded rows.");

  m.def(
      "bn_local_scores",
      [](const std::vector<py::array>& columns, const std::vector<int>& cards, const std::vector<FamilySpec>& families,
         const std::string& score, double ess, int n_threads) {
        const std::vector<Family> fams = to_families(families);
        const Score kind = parse_score(score);
        return with_codes(columns, [&](const auto& codes) {
          py::gil_scoped_release release;
          return local_scores(codes, cards, fams, kind, ess, n_threads);
        });
      },
      py::arg("columns"), py::arg("cards"), py::arg("families"), py::arg("score"), py::arg("equivalent_sample_size"),
      py::arg("n_threads"), "The local score of each (child, parents) family.");

  m.def(
      "bn_hill_climb",
      [](const std::vector<py::array>& columns, const std::vector<int>& cards, const std::string& score, double ess,
         int max_indegree, int tabu_length, std::int64_t max_iter, double epsilon, const std::vector<Edge>& start_edges,
         const std::vector<Edge>& fixed_edges, const std::vector<Edge>& black_list, const std::vector<Edge>& white_list,
         int max_tabu, bool mirror_start, bool forest_start, int n_restarts, int perturbation, std::uint64_t seed, int n_threads,
         const py::object& family_scores) {
        HillClimbOptions opt;
        opt.score = parse_score(score);
        opt.equivalent_sample_size = ess;
        opt.max_indegree = max_indegree;
        opt.tabu_length = tabu_length;
        opt.max_iter = max_iter;
        opt.epsilon = epsilon;
        opt.start_edges = start_edges;
        opt.fixed_edges = fixed_edges;
        opt.black_list = black_list;
        opt.white_list = white_list;
        opt.max_tabu = max_tabu;
        opt.mirror_start = mirror_start;
        opt.forest_start = forest_start;
        opt.n_restarts = n_restarts;
        opt.perturbation = perturbation;
        opt.seed = seed;
        opt.n_threads = n_threads;
        HillClimbResult r;
        if (family_scores.is_none()) {
          r = with_codes(columns, [&](const auto& codes) {
            py::gil_scoped_release release;
            return hill_climb(codes, cards, opt);
          });
        } else {  // the scores come from Python (a cluster's counts): no codes here
          if (!columns.empty()) throw std::invalid_argument("give either data columns or family_scores");
          opt.family_scores = [&family_scores](const std::vector<Family>& fams) {
            py::gil_scoped_acquire gil;
            py::list arg;
            for (const Family& f : fams) arg.append(py::make_tuple(f.child, f.parents));
            return family_scores(arg).cast<std::vector<double>>();
          };
          Codes<std::int8_t> none;
          none.columns.assign(cards.size(), nullptr);
          py::gil_scoped_release release;
          r = hill_climb(none, cards, opt);
        }
        return py::make_tuple(r.edges, r.score, r.n_iter);
      },
      py::arg("columns"), py::arg("cards"), py::arg("score"), py::arg("equivalent_sample_size"),
      py::arg("max_indegree"), py::arg("tabu_length"), py::arg("max_iter"), py::arg("epsilon"), py::arg("start_edges"),
      py::arg("fixed_edges"), py::arg("black_list"), py::arg("white_list"), py::arg("max_tabu"), py::arg("mirror_start"), py::arg("forest_start"), py::arg("n_restarts"), py::arg("perturbation"), py::arg("seed"),
      py::arg("n_threads"), py::arg("family_scores") = py::none(), "Hill climbing over DAGs from the start and the best forest, with tabu moves and random restarts: (edges, score, moves).");

  m.def(
      "bn_posterior_rows",
      [](const std::vector<py::array>& columns, const std::vector<int>& cards, const std::vector<FamilySpec>& families,
         const std::vector<CArray<double>>& cpts, const std::vector<int>& hidden, int n_threads) {
        const std::vector<Family> fams = to_families(families);
        const auto tables = to_tables(cpts);
        std::int64_t width = 0;
        for (int h : hidden) width += (h >= 0 && std::size_t(h) < cards.size()) ? cards[std::size_t(h)] : 0;
        return with_codes(columns, [&](const auto& codes) {
          py::array_t<double> marginals({py::ssize_t(codes.n_rows), py::ssize_t(width)});
          py::array_t<std::int32_t> map({py::ssize_t(codes.n_rows), py::ssize_t(hidden.size())});
          double* m = marginals.mutable_data();
          std::int32_t* p = map.mutable_data();
          {
            py::gil_scoped_release release;
            posterior_rows(codes, cards, fams, tables, hidden, m, p, n_threads);
          }
          return py::make_tuple(marginals, map);
        });
      },
      py::arg("columns"), py::arg("cards"), py::arg("families"), py::arg("cpts"), py::arg("hidden"),
      py::arg("n_threads"),
      "Per-row posterior of the hidden variables given all the others: (marginals, most probable joint state).");

  m.def(
      "bn_likelihood_weighting",
      [](const std::vector<int>& cards, const std::vector<FamilySpec>& families, const std::vector<CArray<double>>& cpts,
         const std::vector<int>& evidence, const std::vector<int>& query, std::int64_t n, std::uint64_t seed,
         int n_threads) {
        const std::vector<Family> fams = to_families(families);
        const auto tables = to_tables(cpts);
        WeightedEstimate est;
        {
          py::gil_scoped_release release;
          est = likelihood_weighting(cards, fams, tables, evidence, query, n, seed, n_threads);
        }
        return py::make_tuple(est.probability, est.std_error, est.effective_samples);
      },
      py::arg("cards"), py::arg("families"), py::arg("cpts"), py::arg("evidence"), py::arg("query"), py::arg("n"),
      py::arg("seed"), py::arg("n_threads"),
      "Likelihood weighting: (probabilities, standard errors, effective sample size); families in topological order.");

  m.def(
      "bn_sample",
      [](const std::vector<int>& cards, const std::vector<FamilySpec>& families, const std::vector<CArray<double>>& cpts,
         std::int64_t n, std::uint64_t seed, bool wide, int n_threads) -> py::array {
        if (n < 0) throw std::invalid_argument("the number of samples must be non-negative");
        const std::vector<Family> fams = to_families(families);
        const auto tables = to_tables(cpts);
        const auto run = [&](auto tag) {
          using T = decltype(tag);
          py::array_t<T> out({py::ssize_t(cards.size()), py::ssize_t(n)});
          std::vector<T*> cols;
          for (std::size_t v = 0; v < cards.size(); ++v) cols.push_back(out.mutable_data() + v * std::size_t(n));
          {
            py::gil_scoped_release release;
            sample_network(cards, fams, tables, n, seed, cols, n_threads);
          }
          return out;
        };
        if (wide) return run(std::int16_t{});
        return run(std::int8_t{});
      },
      py::arg("cards"), py::arg("families"), py::arg("cpts"), py::arg("n"), py::arg("seed"), py::arg("wide"),
      py::arg("n_threads"),
      "Ancestral sampling: an (n_vars, n) array of codes (int16 if wide, else int8); families in topological order.");
}

}  // namespace scalegen::bindings
