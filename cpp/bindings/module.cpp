// The private extension module, built once per instruction-set level.
#include "bindings.hpp"

#ifndef SCALEGEN_MODULE_NAME
#error "SCALEGEN_MODULE_NAME must name the module (set by CMake)"
#endif

PYBIND11_MODULE(SCALEGEN_MODULE_NAME, m) {
  m.doc() = "scalegen's compiled core (private: use the scalegen package)";
  scalegen::bindings::bind_common(m);
  scalegen::bindings::bind_mixture(m);
  scalegen::bindings::bind_bayesnet(m);
  scalegen::bindings::bind_nn(m);
  scalegen::bindings::bind_metrics(m);
  scalegen::bindings::bind_privacy(m);
}
