#pragma once
/// The width of the vector registers of the instruction-set level being compiled.
///
/// Kernels written with GCC's generic vectors use this many bytes per vector: a generic
/// vector wider than the registers is not split into register-wide halves but lowered
/// through memory one lane at a time (64-byte vectors on AVX2 ran 10-50x slower than on
/// AVX-512; bench/cpp/bench_kernels.cpp measures each level).

namespace scalegen {

#if defined(__AVX512F__)
constexpr int kSimdBytes = 64;
#elif defined(__AVX__)
constexpr int kSimdBytes = 32;
#else
constexpr int kSimdBytes = 16;
#endif

}  // namespace scalegen
