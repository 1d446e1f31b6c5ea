/* gemm_avx2.c - the AVX2+FMA micro-kernels: 6 rows x 16 columns, 12 ymm accumulators, with B
 * as floats or as IEEE halves widened in registers (F16C). */
#include "engine/kernels/gemm.h"
#include <immintrin.h>
#include <stdint.h>

#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

/* Eight columns of B's row k, from floats or from halves. */
static inline AVX2_TARGET __attribute__((always_inline)) __m256 load_b8(const void *b, size_t i,
                                                                        int f16) {
    if (f16) return _mm256_cvtph_ps(_mm_load_si128((const __m128i *)((const uint16_t *)b + i)));
    return _mm256_load_ps((const float *)b + i);
}

/* The one kernel body; f16 is a constant in each caller, so each gets its own loop. */
static inline AVX2_TARGET __attribute__((always_inline)) void
ukr_body(int kc, const float *a, int lda, const void *b, float *c, int ldc, int load_c,
         const float *init16, int f16) {
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    if (load_c) {
#define LD(i) c##i##0 = _mm256_loadu_ps(c + (size_t)(i) * ldc); c##i##1 = _mm256_loadu_ps(c + (size_t)(i) * ldc + 8)
        LD(0); LD(1); LD(2); LD(3); LD(4); LD(5);
#undef LD
    } else {
        __m256 lo = _mm256_loadu_ps(init16), hi = _mm256_loadu_ps(init16 + 8);
        c00 = c10 = c20 = c30 = c40 = c50 = lo;
        c01 = c11 = c21 = c31 = c41 = c51 = hi;
    }
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * (size_t)lda, *a3 = a + 3 * (size_t)lda;
    const float *a4 = a + 4 * (size_t)lda, *a5 = a + 5 * (size_t)lda;
    /* four k per loop trip: 3-6% faster at SD shapes on 2 threads than one (8: no better) */
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        __m256 b0 = load_b8(b, (size_t)k * 16, f16), b1 = load_b8(b, (size_t)k * 16 + 8, f16);
#define FMA(i) { __m256 av = _mm256_broadcast_ss(a##i + k); c##i##0 = _mm256_fmadd_ps(av, b0, c##i##0); c##i##1 = _mm256_fmadd_ps(av, b1, c##i##1); }
        FMA(0) FMA(1) FMA(2) FMA(3) FMA(4) FMA(5)
#undef FMA
    }
#define ST(i) _mm256_storeu_ps(c + (size_t)(i) * ldc, c##i##0); _mm256_storeu_ps(c + (size_t)(i) * ldc + 8, c##i##1)
    ST(0); ST(1); ST(2); ST(3); ST(4); ST(5);
#undef ST
}

AVX2_TARGET void gemm_ukr_avx2(int kc, const float *a, int lda, const float *b, float *c, int ldc,
                               int load_c, const float *init16) {
    ukr_body(kc, a, lda, b, c, ldc, load_c, init16, 0);
}

AVX2_TARGET void gemm_ukr_avx2_f16(int kc, const float *a, int lda, const uint16_t *b, float *c,
                                   int ldc, int load_c, const float *init16) {
    ukr_body(kc, a, lda, b, c, ldc, load_c, init16, 1);
}
