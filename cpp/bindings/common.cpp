#include <pybind11/stl.h>

#include <stdexcept>

#include "bindings.hpp"
#include "scalegen/common/build_info.hpp"
#include "scalegen/common/parallel.hpp"

namespace scalegen::bindings {

void bind_common(py::module_& m) {
  m.def(
      "build_info",
      [] {
        const BuildInfo info = build_info();
        py::dict d;
        d["isa_level"] = info.isa_level;
        d["compiler"] = info.compiler;
        d["openmp"] = info.openmp;
        d["eigen"] = info.eigen;
        d["simd"] = info.simd;
        d["omp_max_threads"] = info.omp_max_threads;
        return d;
      },
      "Facts about how this core was compiled.");
  m.def(
      "probe_parallel_threads",
      [](int n_threads, int n_iter) {
        py::gil_scoped_release release;
        return probe_parallel_threads(n_threads, n_iter);
      },
      py::arg("n_threads"), py::arg("n_iter") = 1024,
      "Diagnostic: how many distinct threads ran a parallel loop asked to use n_threads.");
  m.def("last_parallel_threads", &last_parallel_threads,
        "Diagnostic: how many threads ran iterations of the last parallel loop of any kernel.");
  m.def("in_forked_child", &in_forked_child, "True in a process forked after the core was loaded.");
  m.def(
      "raise_in_parallel",
      [](int n_threads, std::int64_t n, std::int64_t bad) {
        py::gil_scoped_release release;
        std::atomic<std::int64_t> done{0};
        parallel_for(n_threads, n, [&](std::int64_t i) {
          if (i == bad) throw std::invalid_argument("iteration " + std::to_string(i) + " failed");
          ++done;
        });
        return done.load();
      },
      py::arg("n_threads"), py::arg("n"), py::arg("bad"),
      "Diagnostic: a parallel loop whose iteration `bad` throws; the error reaches Python.");
}

}  // namespace scalegen::bindings
