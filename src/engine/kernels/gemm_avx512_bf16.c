/* gemm_avx512_bf16.c - precision bf16 on AVX-512: the 12 x 16 and 12 x 32 dot-product
 * micro-kernels (AVX512-BF16's VDPBF16PS: per column, f32 += a[2q] * b[2q] + a[2q+1] *
 * b[2q+1], products exact) and the rounding of A's rows to bfloat16 (AVX-512F integer ops, the
 * same bits as f32_to_bf16). */
#include "engine/kernels/gemm.h"
#include "engine/kernels/avx512_tile.h"
#include "engine/tensor/dtype.h"
#include <immintrin.h>
#include <string.h>

/* The pair (a[2q], a[2q + 1]) as one 32-bit lane value. */
static inline __attribute__((always_inline)) int pair32(const uint16_t *a, int q) {
    int v;
    memcpy(&v, a + 2 * (size_t)q, sizeof v);
    return v;
}

/* The kernel body: 12 rows x one panel (c0..c11) or two (d0..d11 from b1 into c + 16, init16 +
 * 16); two is a constant in each caller. As with the f32 kernels, a second panel lets each
 * broadcast of A's pair feed two dot products. */
static inline __attribute__((always_inline, target("avx512f,avx512bf16"))) void
dp_body(int kp, const uint16_t *a, int lda, const uint16_t *b0, const uint16_t *b1, float *c,
        int ldc, int load_c, const float *init16, int two) {
    const int rows = GEMM_MR_AVX512;
    AVX512_TILE_DECL;
    // clang-format off
#define INIT(i) const uint16_t *a##i = a + (i) * (size_t)lda; AVX512_TILE_LOAD_ROW(i)
    AVX512_ROWS(INIT)
#undef INIT
#pragma GCC unroll 2
    for (int q = 0; q < kp; q++) {
        __m512bh bv = (__m512bh)_mm512_load_si512((const void *)(b0 + (size_t)q * 32));
        __m512bh bw = two ? (__m512bh)_mm512_load_si512((const void *)(b1 + (size_t)q * 32)) : bv;
#define DP(i)                                                                                      \
        {                                                                                          \
            __m512bh av = (__m512bh)_mm512_set1_epi32(pair32(a##i, q));                            \
            c##i = _mm512_dpbf16_ps(c##i, av, bv);                                                 \
            if (two) d##i = _mm512_dpbf16_ps(d##i, av, bw);                                        \
        }
        AVX512_ROWS(DP)
#undef DP
    }
    AVX512_ROWS(AVX512_TILE_STORE_ROW)
    // clang-format on
}

__attribute__((target("avx512f,avx512bf16"))) void
gemm_ukr_avx512_bf16(int kp, const uint16_t *a, int lda, const uint16_t *b, float *c, int ldc,
                     int load_c, const float *init16) {
    dp_body(kp, a, lda, b, NULL, c, ldc, load_c, init16, 0);
}

__attribute__((target("avx512f,avx512bf16"))) void
gemm_ukr_avx512_bf16_x2(int kp, const uint16_t *a, int lda, const uint16_t *b0, const uint16_t *b1,
                        float *c, int ldc, int load_c, const float *init32) {
    dp_body(kp, a, lda, b0, b1, c, ldc, load_c, init32, 1);
}

/* Sixteen floats' bits rounded to bfloat16 (nearest even; NaN stays a quiet NaN). */
static inline __attribute__((always_inline, target("avx512f"))) __m256i round16(__m512i x) {
    const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7fff);
    __m512i r = _mm512_add_epi32(
        x, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(x, 16), one)));
    r = _mm512_srli_epi32(r, 16);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_mov_epi32(r, nan,
                              _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40)));
    return _mm512_cvtepi32_epi16(r);
}

__attribute__((target("avx512f"))) void gemm_a_to_bf16_avx512(const float *src, size_t lds, int rows,
                                                              int kc, uint16_t *dst, int ld) {
    for (int i = 0; i < rows; i++) {
        const float *s = src + (size_t)i * lds;
        uint16_t *d = dst + (size_t)i * ld;
        int e = 0;
        for (; e + 16 <= kc; e += 16)
            _mm256_storeu_si256((__m256i *)(d + e),
                                round16(_mm512_castps_si512(_mm512_loadu_ps(s + e))));
        for (; e < kc; e++)
            d[e] = f32_to_bf16(s[e]);
        for (; e < ld; e++) d[e] = 0;
    }
}
