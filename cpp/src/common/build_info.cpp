#include "scalegen/common/build_info.hpp"

#include <omp.h>

#include <Eigen/Core>

#ifndef SCALEGEN_ISA_LEVEL
#define SCALEGEN_ISA_LEVEL "unknown"
#endif

#define SCALEGEN_STR2(x) #x
#define SCALEGEN_STR(x) SCALEGEN_STR2(x)

namespace scalegen {

BuildInfo build_info() {
  BuildInfo info;
  info.isa_level = SCALEGEN_ISA_LEVEL;
#if defined(__clang__)
  info.compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
  info.compiler = "gcc " __VERSION__;
#else
  info.compiler = "unknown";
#endif
  info.openmp = SCALEGEN_STR(_OPENMP);
  info.eigen = SCALEGEN_STR(EIGEN_WORLD_VERSION) "." SCALEGEN_STR(EIGEN_MAJOR_VERSION) "." SCALEGEN_STR(
      EIGEN_MINOR_VERSION);
#if defined(__SSE2__)
  info.simd.emplace_back("SSE2");
#endif
#if defined(__SSE4_2__)
  info.simd.emplace_back("SSE4.2");
#endif
#if defined(__AVX__)
  info.simd.emplace_back("AVX");
#endif
#if defined(__AVX2__)
  info.simd.emplace_back("AVX2");
#endif
#if defined(__FMA__)
  info.simd.emplace_back("FMA");
#endif
#if defined(__AVX512F__)
  info.simd.emplace_back("AVX512F");
#endif
#if defined(__AVX512BW__)
  info.simd.emplace_back("AVX512BW");
#endif
#if defined(__AVX512DQ__)
  info.simd.emplace_back("AVX512DQ");
#endif
#if defined(__AVX512VL__)
  info.simd.emplace_back("AVX512VL");
#endif
#if defined(__ARM_NEON)
  info.simd.emplace_back("NEON");
#endif
  info.omp_max_threads = omp_get_max_threads();
  return info;
}

}  // namespace scalegen
