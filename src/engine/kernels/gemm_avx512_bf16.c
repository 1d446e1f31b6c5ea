/* gemm_avx512_bf16.c - precision bf16 on AVX-512: the 12 x 16 dot-product micro-kernel
 * (AVX512-BF16's VDPBF16PS: per column, f32 += a[2q] * b[2q] + a[2q+1] * b[2q+1], products
 * exact) and the rounding of A's rows to bfloat16 (AVX-512F integer ops, the same bits as
 * f32_to_bf16). */
#include "engine/kernels/gemm.h"
#include "engine/tensor/dtype.h"
#include <immintrin.h>
#include <string.h>

/* The 12 x 16 f32 accumulator tile in twelve zmm registers c0..c11, loaded from C (ldc apart)
 * or with init16 in every row, stored back; and the twelve row pointers a0..a11 into A. Macros,
 * so that the accumulators stay in registers. */
// clang-format off
#define AVX512_TILE_LOAD(c, ldc, load_c, init16)                                                   \
    __m512 c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11;                                       \
    if (load_c) {                                                                                  \
        c0 = _mm512_loadu_ps(c); c1 = _mm512_loadu_ps(c + (size_t)(ldc));                          \
        c2 = _mm512_loadu_ps(c + 2 * (size_t)(ldc)); c3 = _mm512_loadu_ps(c + 3 * (size_t)(ldc));  \
        c4 = _mm512_loadu_ps(c + 4 * (size_t)(ldc)); c5 = _mm512_loadu_ps(c + 5 * (size_t)(ldc));  \
        c6 = _mm512_loadu_ps(c + 6 * (size_t)(ldc)); c7 = _mm512_loadu_ps(c + 7 * (size_t)(ldc));  \
        c8 = _mm512_loadu_ps(c + 8 * (size_t)(ldc)); c9 = _mm512_loadu_ps(c + 9 * (size_t)(ldc));  \
        c10 = _mm512_loadu_ps(c + 10 * (size_t)(ldc));                                             \
        c11 = _mm512_loadu_ps(c + 11 * (size_t)(ldc));                                             \
    } else {                                                                                       \
        __m512 v_ = _mm512_loadu_ps(init16);                                                       \
        c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = c8 = c9 = c10 = c11 = v_;                          \
    }

#define AVX512_TILE_STORE(c, ldc)                                                                  \
    _mm512_storeu_ps(c, c0); _mm512_storeu_ps(c + (size_t)(ldc), c1);                              \
    _mm512_storeu_ps(c + 2 * (size_t)(ldc), c2); _mm512_storeu_ps(c + 3 * (size_t)(ldc), c3);      \
    _mm512_storeu_ps(c + 4 * (size_t)(ldc), c4); _mm512_storeu_ps(c + 5 * (size_t)(ldc), c5);      \
    _mm512_storeu_ps(c + 6 * (size_t)(ldc), c6); _mm512_storeu_ps(c + 7 * (size_t)(ldc), c7);      \
    _mm512_storeu_ps(c + 8 * (size_t)(ldc), c8); _mm512_storeu_ps(c + 9 * (size_t)(ldc), c9);      \
    _mm512_storeu_ps(c + 10 * (size_t)(ldc), c10); _mm512_storeu_ps(c + 11 * (size_t)(ldc), c11)

#define AVX512_ROW_POINTERS(T, a, lda)                                                             \
    const T *a0 = a, *a1 = a + (lda), *a2 = a + 2 * (size_t)(lda), *a3 = a + 3 * (size_t)(lda);    \
    const T *a4 = a + 4 * (size_t)(lda), *a5 = a + 5 * (size_t)(lda);                              \
    const T *a6 = a + 6 * (size_t)(lda), *a7 = a + 7 * (size_t)(lda);                              \
    const T *a8 = a + 8 * (size_t)(lda), *a9 = a + 9 * (size_t)(lda);                              \
    const T *a10 = a + 10 * (size_t)(lda), *a11 = a + 11 * (size_t)(lda)
// clang-format on

/* The pair (a[2q], a[2q + 1]) as one 32-bit lane value. */
static inline __attribute__((always_inline)) int pair32(const uint16_t *a, int q) {
    int v;
    memcpy(&v, a + 2 * (size_t)q, sizeof v);
    return v;
}

__attribute__((target("avx512f,avx512bf16"))) void
gemm_ukr_avx512_bf16(int kp, const uint16_t *a, int lda, const uint16_t *b, float *c, int ldc,
                     int load_c, const float *init16) {
    AVX512_TILE_LOAD(c, ldc, load_c, init16);
    AVX512_ROW_POINTERS(uint16_t, a, lda);
#pragma GCC unroll 2
    for (int q = 0; q < kp; q++) {
        __m512bh bv = (__m512bh)_mm512_load_si512((const void *)(b + (size_t)q * 32));
        // clang-format off
#define DP(i) c##i = _mm512_dpbf16_ps(c##i, (__m512bh)_mm512_set1_epi32(pair32(a##i, q)), bv)
        DP(0); DP(1); DP(2); DP(3); DP(4); DP(5); DP(6); DP(7); DP(8); DP(9); DP(10); DP(11);
#undef DP
        // clang-format on
    }
    AVX512_TILE_STORE(c, ldc);
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

__attribute__((target("avx512f"))) void gemm_a_to_bf16_avx512(const float *src, int rows, int kc,
                                                              uint16_t *dst, int ld) {
    for (int i = 0; i < rows; i++) {
        const float *s = src + (size_t)i * kc;
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
