/* gemm_avx512.c - the AVX-512 micro-kernels: 12 rows x 16 columns (one panel, 12 zmm
 * accumulators) or x 32 columns (two panels at once, 24 accumulators), with B as floats or as
 * IEEE halves widened in registers (VCVTPH2PS). */
#include "engine/kernels/gemm.h"
#include "engine/kernels/avx512_tile.h"
#include <immintrin.h>
#include <stdint.h>

#define AVX512_TARGET __attribute__((target("avx512f,avx2,fma,f16c")))

/* Sixteen columns of a panel's row, from floats or from halves. */
static inline AVX512_TARGET __attribute__((always_inline)) __m512 load_b16(const void *b, size_t i,
                                                                           int f16) {
    if (f16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)b + i)));
    return _mm512_load_ps((const float *)b + i);
}

/* The one kernel body; f16, two and rows are constants in each caller, so each gets its own
 * loop. Rows 0..rows-1 of A at a + i * lda; with two, columns 16-31 come from b1 into c + 16
 * (init16 + 16). The second panel halves the loads per product: a broadcast of A feeds two
 * FMAs. */
static inline AVX512_TARGET __attribute__((always_inline)) void
ukr_body(int kc, const float *a, int lda, const void *b0p, const void *b1p, float *c, int ldc,
         int load_c, const float *init16, int f16, int two, int rows) {
    AVX512_TILE_DECL;
    const float *a0, *a1, *a2, *a3, *a4, *a5, *a6, *a7, *a8, *a9, *a10, *a11;
    // clang-format off
#define INIT(i) a##i = (i) < rows ? a + (i) * (size_t)lda : a; AVX512_TILE_LOAD_ROW(i)
    AVX512_ROWS(INIT)
#undef INIT
    /* four k per loop trip: 2-5% faster than one at SD shapes on 2 Xeon (AVX-512) threads */
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        __m512 b0 = load_b16(b0p, (size_t)k * 16, f16);
        __m512 b1 = two ? load_b16(b1p, (size_t)k * 16, f16) : b0;
#define FMA(i)                                                                                     \
        if ((i) < rows) {                                                                          \
            __m512 av = _mm512_set1_ps(a##i[k]);                                                   \
            c##i = _mm512_fmadd_ps(av, b0, c##i);                                                  \
            if (two) d##i = _mm512_fmadd_ps(av, b1, d##i);                                         \
        }
        AVX512_ROWS(FMA)
#undef FMA
    }
    AVX512_ROWS(AVX512_TILE_STORE_ROW)
    // clang-format on
}

enum { MR = GEMM_MR_AVX512 };

AVX512_TARGET void gemm_ukr_avx512(int kc, const float *a, int lda, const float *b, float *c,
                                   int ldc, int load_c, const float *init16) {
    ukr_body(kc, a, lda, b, NULL, c, ldc, load_c, init16, 0, 0, MR);
}

AVX512_TARGET void gemm_ukr_avx512_f16(int kc, const float *a, int lda, const uint16_t *b, float *c,
                                       int ldc, int load_c, const float *init16) {
    ukr_body(kc, a, lda, b, NULL, c, ldc, load_c, init16, 1, 0, MR);
}

AVX512_TARGET void gemm_ukr_avx512_x2(int kc, const float *a, int lda, const float *b0,
                                      const float *b1, float *c, int ldc, int load_c,
                                      const float *init32) {
    ukr_body(kc, a, lda, b0, b1, c, ldc, load_c, init32, 0, 1, MR);
}

AVX512_TARGET void gemm_ukr_avx512_x2_f16(int kc, const float *a, int lda, const uint16_t *b0,
                                          const uint16_t *b1, float *c, int ldc, int load_c,
                                          const float *init32) {
    ukr_body(kc, a, lda, b0, b1, c, ldc, load_c, init32, 1, 1, MR);
}

/* The two-panel kernels for each row count up to MR: a last row tile (77 CLIP tokens: 6 x 12 + 5)
 * multiplies only the rows it has, in place, instead of 12 through a buffer. */
// clang-format off
#define SHORT_TILE(R)                                                                              \
    static AVX512_TARGET void x2_##R(int kc, const float *a, int lda, const float *b0,             \
                                     const float *b1, float *c, int ldc, int load_c,               \
                                     const float *init32) {                                        \
        ukr_body(kc, a, lda, b0, b1, c, ldc, load_c, init32, 0, 1, R);                             \
    }                                                                                              \
    static AVX512_TARGET void x2_f16_##R(int kc, const float *a, int lda, const uint16_t *b0,      \
                                         const uint16_t *b1, float *c, int ldc, int load_c,        \
                                         const float *init32) {                                    \
        ukr_body(kc, a, lda, b0, b1, c, ldc, load_c, init32, 1, 1, R);                             \
    }
SHORT_TILE(1) SHORT_TILE(2) SHORT_TILE(3) SHORT_TILE(4) SHORT_TILE(5) SHORT_TILE(6)
SHORT_TILE(7) SHORT_TILE(8) SHORT_TILE(9) SHORT_TILE(10) SHORT_TILE(11)
#undef SHORT_TILE

gemm_ukr2_fn gemm_ukr_avx512_x2_rows(int rows) {
    static const gemm_ukr2_fn k[MR + 1] = {NULL, x2_1, x2_2, x2_3, x2_4, x2_5, x2_6, x2_7, x2_8,
                                           x2_9, x2_10, x2_11, gemm_ukr_avx512_x2};
    return rows > 0 && rows <= MR ? k[rows] : NULL;
}

gemm_ukr2_f16_fn gemm_ukr_avx512_x2_f16_rows(int rows) {
    static const gemm_ukr2_f16_fn k[MR + 1] = {NULL, x2_f16_1, x2_f16_2, x2_f16_3, x2_f16_4,
                                               x2_f16_5, x2_f16_6, x2_f16_7, x2_f16_8, x2_f16_9,
                                               x2_f16_10, x2_f16_11, gemm_ukr_avx512_x2_f16};
    return rows > 0 && rows <= MR ? k[rows] : NULL;
}
// clang-format on
