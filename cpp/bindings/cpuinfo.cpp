// CPU feature probe, compiled for the baseline: decides which core level may be imported.
#include <pybind11/pybind11.h>

#include <string>

namespace py = pybind11;

namespace {

bool supports(const std::string& level) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (level == "baseline") return true;
  if (level == "v3") return __builtin_cpu_supports("x86-64-v3");
  if (level == "v4") return __builtin_cpu_supports("x86-64-v4");
  return false;
#else
  return level == "baseline";
#endif
}

}  // namespace

PYBIND11_MODULE(_cpuinfo, m) {
  m.doc() = "CPU feature probe of scalegen";
  m.def("supports", &supports, py::arg("level"),
        "Whether this CPU and OS can run the core built for an instruction-set level.");
}
