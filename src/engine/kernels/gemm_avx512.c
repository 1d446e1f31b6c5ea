/* gemm_avx512.c - the AVX-512 micro-kernels: 12 rows x 16 columns (one panel, 12 zmm
 * accumulators) or x 32 columns (two panels at once, 24 accumulators), with B as floats or as
 * IEEE halves widened in registers (VCVTPH2PS). */
#include "engine/kernels/gemm.h"
#include <immintrin.h>
#include <stdint.h>

#define AVX512_TARGET __attribute__((target("avx512f,avx2,fma,f16c")))

/* Sixteen columns of a panel's row, from floats or from halves. */
static inline AVX512_TARGET __attribute__((always_inline)) __m512 load_b16(const void *b, size_t i,
                                                                           int f16) {
    if (f16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)b + i)));
    return _mm512_load_ps((const float *)b + i);
}

/* The one kernel body; f16 and two are constants in each caller, so each gets its own loop.
 * Row i of A at a + i * lda; with two, columns 16-31 come from b1 into c + 16 (init16 + 16). The
 * second panel halves the loads per product: a broadcast of A feeds two FMAs. */
static inline AVX512_TARGET __attribute__((always_inline)) void
ukr_body(int kc, const float *a, int lda, const void *b0p, const void *b1p, float *c, int ldc,
         int load_c, const float *init16, int f16, int two) {
    __m512 c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11;
    __m512 d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11;
    // clang-format off
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define INIT(i)                                                                                    \
    c##i = load_c ? _mm512_loadu_ps(c + (size_t)(i) * ldc) : _mm512_loadu_ps(init16);              \
    d##i = !two ? _mm512_setzero_ps()                                                              \
                : load_c ? _mm512_loadu_ps(c + (size_t)(i) * ldc + 16) : _mm512_loadu_ps(init16 + 16);
    ROWS(INIT)
#undef INIT
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * (size_t)lda, *a3 = a + 3 * (size_t)lda;
    const float *a4 = a + 4 * (size_t)lda, *a5 = a + 5 * (size_t)lda, *a6 = a + 6 * (size_t)lda;
    const float *a7 = a + 7 * (size_t)lda, *a8 = a + 8 * (size_t)lda, *a9 = a + 9 * (size_t)lda;
    const float *a10 = a + 10 * (size_t)lda, *a11 = a + 11 * (size_t)lda;
    /* four k per loop trip: 2-5% faster than one at SD shapes on 2 Xeon (AVX-512) threads */
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        __m512 b0 = load_b16(b0p, (size_t)k * 16, f16);
        __m512 b1 = two ? load_b16(b1p, (size_t)k * 16, f16) : b0;
#define FMA(i)                                                                                     \
        {                                                                                          \
            __m512 av = _mm512_set1_ps(a##i[k]);                                                   \
            c##i = _mm512_fmadd_ps(av, b0, c##i);                                                  \
            if (two) d##i = _mm512_fmadd_ps(av, b1, d##i);                                         \
        }
        ROWS(FMA)
#undef FMA
    }
#define STORE(i)                                                                                   \
    _mm512_storeu_ps(c + (size_t)(i) * ldc, c##i);                                                 \
    if (two) _mm512_storeu_ps(c + (size_t)(i) * ldc + 16, d##i);
    ROWS(STORE)
#undef STORE
#undef ROWS
    // clang-format on
}

AVX512_TARGET void gemm_ukr_avx512(int kc, const float *a, int lda, const float *b, float *c,
                                   int ldc, int load_c, const float *init16) {
    ukr_body(kc, a, lda, b, NULL, c, ldc, load_c, init16, 0, 0);
}

AVX512_TARGET void gemm_ukr_avx512_f16(int kc, const float *a, int lda, const uint16_t *b, float *c,
                                       int ldc, int load_c, const float *init16) {
    ukr_body(kc, a, lda, b, NULL, c, ldc, load_c, init16, 1, 0);
}

AVX512_TARGET void gemm_ukr_avx512_x2(int kc, const float *a, int lda, const float *b0,
                                      const float *b1, float *c, int ldc, int load_c,
                                      const float *init32) {
    ukr_body(kc, a, lda, b0, b1, c, ldc, load_c, init32, 0, 1);
}

AVX512_TARGET void gemm_ukr_avx512_x2_f16(int kc, const float *a, int lda, const uint16_t *b0,
                                          const uint16_t *b1, float *c, int ldc, int load_c,
                                          const float *init32) {
    ukr_body(kc, a, lda, b0, b1, c, ldc, load_c, init32, 1, 1);
}
