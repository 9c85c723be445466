// katachi/kernels/simd.hpp: where katachi's kernels use AVX2 and FMA whatever the compiler flags.
//
// The library builds for plain x86-64 (SSE2) so that one binary runs on any such processor. A few
// hot loops (fma_block.hpp's products, the 2x2 max pooling) have a second version compiled for AVX2
// and FMA by a function attribute, KATACHI_TARGET_AVX2; avx2_available() tells at run time whether
// this processor runs it, and the kernels keep their portable loop where it does not, or where
// KATACHI_AVX2_CODE is 0 (other architectures and compilers).
#pragma once

#include <cstddef>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KATACHI_AVX2_CODE 1
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12 && !defined(_IMMINTRIN_H_INCLUDED)
// g++'s <immintrin.h> declares every x86 extension (about 80,000 lines, a quarter of the CPU time
// of a file that includes <katachi/graph.hpp>). The kernels use SSE4.1, AVX, AVX2, FMA and
// AVX-512F only, so only these headers are read: each refuses to be included unless
// <immintrin.h>'s guard is defined, which is defined around them and removed after, so that a
// later #include <immintrin.h> still declares everything (the headers read here keep their own
// guards). Other compilers (and g++ versions whose headers this was not checked with), or a file
// that included <immintrin.h> first, take the whole header.
// (In <immintrin.h>'s order, which they need.)
// clang-format off
#include <smmintrin.h>
#define _IMMINTRIN_H_INCLUDED
#include <avxintrin.h>
#include <avx2intrin.h>
#include <avx512fintrin.h>
#include <fmaintrin.h>
#undef _IMMINTRIN_H_INCLUDED
// clang-format on
#else
#include <immintrin.h>
#endif
#define KATACHI_TARGET_AVX2 __attribute__((target("avx2,fma")))
// own_gemm.hpp's 512-bit kernels, on processors with AVX-512F (avx512_available()).
#define KATACHI_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#else
#define KATACHI_AVX2_CODE 0
#endif

namespace katachi::kernels::detail {

// Whether this processor has AVX2 and FMA (every x86-64 since about 2013 has both).
inline bool avx2_available() {
#if KATACHI_AVX2_CODE
    static const bool available = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return available;
#else
    return false;
#endif
}

// Whether this processor has AVX-512F (and so AVX2 and FMA).
inline bool avx512_available() {
#if KATACHI_AVX2_CODE
    static const bool available = avx2_available() && __builtin_cpu_supports("avx512f");
    return available;
#else
    return false;
#endif
}

#if KATACHI_AVX2_CODE
// Lanes [0, count) of 8 (32-bit) or of 4 (64-bit) set, for the masked loads and stores of a row's
// last block.
KATACHI_TARGET_AVX2 inline __m256i lanes_below(std::size_t count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
KATACHI_TARGET_AVX2 inline __m256i wide_lanes_below(std::size_t count) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(static_cast<long long>(count)),
                              _mm256_setr_epi64x(0, 1, 2, 3));
}

#endif

}  // namespace katachi::kernels::detail
