/* gemm_avx2.c - the AVX2+FMA micro-kernels: 6 rows x 16 columns, 12 ymm accumulators, with B
 * as floats or as IEEE halves widened in registers (F16C), A as a packed micro-panel; and the
 * packing of A into micro-panels. */
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

/* The one kernel body; f16 and mp are constants in each caller, so each gets its own loop. A's
 * row i, value k: a[i * lda + k], or with mp (a micro-panel) a[k * GEMM_MR_AVX2 + i]. */
static inline AVX2_TARGET __attribute__((always_inline)) void
ukr_body(int kc, const float *a, int lda, const void *b, float *c, int ldc, int load_c,
         const float *init16, int f16, int mp) {
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
    size_t rs = mp ? 1 : (size_t)lda, ks = mp ? GEMM_MR_AVX2 : 1; /* row and k steps */
    /* four k per loop trip: 3-6% faster at SD shapes on 2 threads than one (8: no better) */
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        __m256 b0 = load_b8(b, (size_t)k * 16, f16), b1 = load_b8(b, (size_t)k * 16 + 8, f16);
#define FMA(i)                                                                                     \
    {                                                                                              \
        __m256 av = _mm256_broadcast_ss(a + (i)*rs + (size_t)k * ks);                              \
        c##i##0 = _mm256_fmadd_ps(av, b0, c##i##0);                                                \
        c##i##1 = _mm256_fmadd_ps(av, b1, c##i##1);                                                \
    }
        FMA(0) FMA(1) FMA(2) FMA(3) FMA(4) FMA(5)
#undef FMA
    }
#define ST(i) _mm256_storeu_ps(c + (size_t)(i) * ldc, c##i##0); _mm256_storeu_ps(c + (size_t)(i) * ldc + 8, c##i##1)
    ST(0); ST(1); ST(2); ST(3); ST(4); ST(5);
#undef ST
}

AVX2_TARGET void gemm_ukr_avx2(int kc, const float *a, int lda, const float *b, float *c, int ldc,
                               int load_c, const float *init16) {
    ukr_body(kc, a, lda, b, c, ldc, load_c, init16, 0, 0);
}

AVX2_TARGET void gemm_ukr_avx2_f16(int kc, const float *a, int lda, const uint16_t *b, float *c,
                                   int ldc, int load_c, const float *init16) {
    ukr_body(kc, a, lda, b, c, ldc, load_c, init16, 1, 0);
}

AVX2_TARGET void gemm_ukr_avx2_mp(int kc, const float *a, const float *b, float *c, int ldc,
                                  int load_c, const float *init16) {
    ukr_body(kc, a, 0, b, c, ldc, load_c, init16, 0, 1);
}

AVX2_TARGET void gemm_ukr_avx2_mp_f16(int kc, const float *a, const uint16_t *b, float *c, int ldc,
                                      int load_c, const float *init16) {
    ukr_body(kc, a, 0, b, c, ldc, load_c, init16, 1, 1);
}

/* Eight rows of eight floats transposed: r[j] becomes column j. */
static inline AVX2_TARGET __attribute__((always_inline)) void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

AVX2_TARGET void gemm_pack_a_avx2(const float *src, size_t ld, int rows, int kc, float *dst) {
    enum { MR = GEMM_MR_AVX2 };
    int k = 0;
    if (rows == MR) /* eight k at a time: six rows (and two zero rows) transposed */
        for (; k + 8 <= kc; k += 8) {
            __m256 r[8];
            for (int i = 0; i < MR; i++)
                r[i] = _mm256_loadu_ps(src + (size_t)i * ld + k);
            r[6] = r[7] = _mm256_setzero_ps();
            transpose8(r);
            /* each store's last two values are the next k's first two, stored over next */
            for (int j = 0; j < 8; j++)
                _mm256_storeu_ps(dst + (size_t)(k + j) * MR, r[j]);
        }
    for (; k < kc; k++)
        for (int i = 0; i < MR; i++)
            dst[(size_t)k * MR + i] = i < rows ? src[(size_t)i * ld + k] : 0.f;
}
