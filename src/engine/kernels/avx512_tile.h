/* avx512_tile.h - what both AVX-512 micro-kernels (f32 FMA, bfloat16 dot product) share: the
 * 12 x 16 f32 accumulator tile in twelve zmm registers c0..c11, loaded from C (ldc apart) or
 * with init16 in every row, stored back; and the twelve row pointers a0..a11 into A. Macros, so
 * that each kernel keeps its accumulators in registers. Include after <immintrin.h>. */
#ifndef IMGAPI_ENGINE_KERNELS_AVX512_TILE_H
#define IMGAPI_ENGINE_KERNELS_AVX512_TILE_H

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

#endif
