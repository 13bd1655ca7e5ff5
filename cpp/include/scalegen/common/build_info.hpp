#pragma once
/// What this build of the core was compiled with.

#include <string>
#include <vector>

namespace scalegen {

/// Facts about the compiled core: compiler, OpenMP, Eigen and instruction sets.
struct BuildInfo {
  std::string isa_level;              ///< "baseline", "v3", "v4" or "native"
  std::string compiler;               ///< compiler name and version
  std::string openmp;                 ///< OpenMP specification date (yyyymm)
  std::string eigen;                  ///< Eigen version
  std::vector<std::string> simd;      ///< instruction sets the compiler may emit
  int omp_max_threads = 0;            ///< what the OpenMP runtime would use by default
};

/// Returns the build facts of this core.
BuildInfo build_info();

}  // namespace scalegen
