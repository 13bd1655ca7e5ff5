#include <pybind11/stl.h>

#include <stdexcept>

#include "bindings.hpp"
#include "scalegen/common/build_info.hpp"
#include "scalegen/common/limits.hpp"
#include "scalegen/common/parallel.hpp"

namespace scalegen::bindings {

void bind_common(py::module_& m) {
  // LimitError is a ValueError defined in Python (scalegen.LimitError), one class for all levels
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const LimitError& e) {
      const py::object cls = py::module_::import("scalegen.utils._limits").attr("LimitError");
      PyErr_SetString(cls.ptr(), e.what());
    }
  });
  m.def(
      "set_limits",
      [](std::int64_t max_tensor_bytes, std::int64_t max_total_bytes) {
        set_limits({max_tensor_bytes, max_total_bytes});
      },
      py::arg("max_tensor_bytes"), py::arg("max_total_bytes"),
      "The core's allocation limits (bytes); use scalegen.set_limits, which sets both sides.");
  m.def(
      "get_limits",
      [] {
        const Limits l = get_limits();
        return py::make_tuple(l.max_tensor_bytes, l.max_total_bytes);
      },
      "The core's allocation limits: (max_tensor_bytes, max_total_bytes).");
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
