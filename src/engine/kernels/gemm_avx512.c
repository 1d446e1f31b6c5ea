/* gemm_avx512.c - the AVX-512 micro-kernel: 12 rows x 16 columns, 12 zmm accumulators. */
#include "engine/kernels/gemm.h"
#include <immintrin.h>

__attribute__((target("avx512f,avx2,fma"))) void
gemm_ukr_avx512(int kc, const float *a, int lda, const float *b, float *c, int ldc, int load_c,
                const float *init16) {
    __m512 c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11;
    if (load_c) {
#define LD(i) c##i = _mm512_loadu_ps(c + (size_t)(i) * ldc)
        LD(0); LD(1); LD(2); LD(3); LD(4); LD(5); LD(6); LD(7); LD(8); LD(9); LD(10); LD(11);
#undef LD
    } else {
        __m512 v = _mm512_loadu_ps(init16);
        c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = c8 = c9 = c10 = c11 = v;
    }
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * (size_t)lda, *a3 = a + 3 * (size_t)lda;
    const float *a4 = a + 4 * (size_t)lda, *a5 = a + 5 * (size_t)lda, *a6 = a + 6 * (size_t)lda;
    const float *a7 = a + 7 * (size_t)lda, *a8 = a + 8 * (size_t)lda, *a9 = a + 9 * (size_t)lda;
    const float *a10 = a + 10 * (size_t)lda, *a11 = a + 11 * (size_t)lda;
    /* four k per loop trip, as on AVX2: 2-5% at SD shapes on 2 Xeon (AVX-512) threads */
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        __m512 bv = _mm512_load_ps(b + (size_t)k * 16);
#define FMA(i) c##i = _mm512_fmadd_ps(_mm512_set1_ps(a##i[k]), bv, c##i)
        FMA(0); FMA(1); FMA(2); FMA(3); FMA(4); FMA(5); FMA(6); FMA(7); FMA(8); FMA(9); FMA(10); FMA(11);
#undef FMA
    }
#define ST(i) _mm512_storeu_ps(c + (size_t)(i) * ldc, c##i)
    ST(0); ST(1); ST(2); ST(3); ST(4); ST(5); ST(6); ST(7); ST(8); ST(9); ST(10); ST(11);
#undef ST
}
