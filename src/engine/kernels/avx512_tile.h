/* avx512_tile.h - what the AVX-512 micro-kernels (f32 FMA, bfloat16 dot product) share: a tile
 * of up to 12 rows x 16 f32 columns in zmm accumulators c0..c11, or x 32 with d0..d11 holding
 * columns 16-31, loaded from C (ldc apart) or with init16 (16 values; 32 with two) in every row,
 * and stored back. The macros read the kernel body's own c, ldc, load_c, init16, two and rows;
 * two and rows are constants in each kernel, so unused accumulators and rows vanish. Macros, so
 * that the accumulators stay in registers. Include after <immintrin.h>. */
#ifndef IMGAPI_ENGINE_KERNELS_AVX512_TILE_H
#define IMGAPI_ENGINE_KERNELS_AVX512_TILE_H

// clang-format off
/* X(i) for each of the tile's twelve rows */
#define AVX512_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

#define AVX512_TILE_DECL                                                                           \
    __m512 c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11;                                       \
    __m512 d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11

#define AVX512_TILE_LOAD_ROW(i)                                                                    \
    c##i = (i) >= rows ? _mm512_setzero_ps()                                                       \
         : load_c ? _mm512_loadu_ps(c + (size_t)(i) * ldc) : _mm512_loadu_ps(init16);             \
    d##i = !two || (i) >= rows ? _mm512_setzero_ps()                                               \
         : load_c ? _mm512_loadu_ps(c + (size_t)(i) * ldc + 16) : _mm512_loadu_ps(init16 + 16);

#define AVX512_TILE_STORE_ROW(i)                                                                   \
    if ((i) < rows) {                                                                              \
        _mm512_storeu_ps(c + (size_t)(i) * ldc, c##i);                                             \
        if (two) _mm512_storeu_ps(c + (size_t)(i) * ldc + 16, d##i);                               \
    }
// clang-format on

#endif
