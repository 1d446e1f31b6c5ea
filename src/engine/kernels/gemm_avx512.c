/* gemm_avx512.c - the AVX-512 micro-kernel: 12 rows x 16 columns, 12 zmm accumulators. */
#include "engine/kernels/gemm.h"
#include "engine/kernels/avx512_tile.h"
#include <immintrin.h>

__attribute__((target("avx512f,avx2,fma"))) void
gemm_ukr_avx512(int kc, const float *a, int lda, const float *b, float *c, int ldc, int load_c,
                const float *init16) {
    AVX512_TILE_LOAD(c, ldc, load_c, init16);
    AVX512_ROW_POINTERS(float, a, lda);
    /* four k per loop trip, as on AVX2: 2-5% at SD shapes on 2 Xeon (AVX-512) threads */
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        __m512 bv = _mm512_load_ps(b + (size_t)k * 16);
#define FMA(i) c##i = _mm512_fmadd_ps(_mm512_set1_ps(a##i[k]), bv, c##i)
        FMA(0); FMA(1); FMA(2); FMA(3); FMA(4); FMA(5); FMA(6); FMA(7); FMA(8); FMA(9); FMA(10); FMA(11);
#undef FMA
    }
    AVX512_TILE_STORE(c, ldc);
}
