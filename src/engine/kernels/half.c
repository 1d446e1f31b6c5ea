/* half.c - f32 <-> half conversions: F16C where the CPU has it (every AVX2 CPU the kernels run
 * on), the scalar routines of tensor/dtype.h otherwise. */
#include "engine/kernels/half.h"
#include "engine/tensor/dtype.h"
#include <immintrin.h>
#include <string.h>

__attribute__((target("avx2,f16c"))) static int exact_f16c(const float *src, uint16_t *dst,
                                                           size_t n) {
    size_t i = 0;
    int ok = 1;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(src + i);
        __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 back = _mm256_cvtph_ps(h);
        /* bitwise comparison: -0 stays -0, and a NaN payload must survive too */
        __m256i d = _mm256_xor_si256(_mm256_castps_si256(v), _mm256_castps_si256(back));
        ok &= _mm256_testz_si256(d, d);
        _mm_storeu_si128((__m128i *)(dst + i), h);
    }
    for (; i < n; i++) {
        dst[i] = f32_to_f16(src[i]);
        float back = f16_to_f32(dst[i]);
        ok &= memcmp(&back, src + i, sizeof back) == 0;
    }
    return ok;
}

int half_from_float_exact(const float *src, uint16_t *dst, size_t n) {
    if (cpu_supports(ISA_AVX2)) return exact_f16c(src, dst, n);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        dst[i] = f32_to_f16(src[i]);
        float back = f16_to_f32(dst[i]);
        ok &= memcmp(&back, src + i, sizeof back) == 0;
    }
    return ok;
}

__attribute__((target("avx2,f16c"))) static void narrow_f16c(const float *src, uint16_t *dst,
                                                             size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++)
        dst[i] = f32_to_f16(src[i]);
}

void half_from_float(isa_t isa, const float *src, uint16_t *dst, size_t n) {
    if (isa != ISA_PORTABLE) {
        narrow_f16c(src, dst, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = f32_to_f16(src[i]);
}

__attribute__((target("avx2,f16c"))) static void widen_f16c(const uint16_t *src, float *dst,
                                                            size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++)
        dst[i] = f16_to_f32(src[i]);
}

void half_to_float(isa_t isa, const uint16_t *src, float *dst, size_t n) {
    if (isa != ISA_PORTABLE) {
        widen_f16c(src, dst, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = f16_to_f32(src[i]);
}

int bf16_from_float_exact(const float *src, uint16_t *dst, size_t n) {
    uint32_t low = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, src + i, sizeof u);
        low |= u & 0xffffu;
        dst[i] = (uint16_t)(u >> 16);
    }
    return low == 0;
}

__attribute__((target("avx2"))) static void widen_bf16_avx2(const uint16_t *src, float *dst,
                                                            size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
    }
    for (; i < n; i++)
        dst[i] = bf16_to_f32(src[i]);
}

void bf16_to_float(isa_t isa, const uint16_t *src, float *dst, size_t n) {
    if (isa != ISA_PORTABLE) {
        widen_bf16_avx2(src, dst, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = bf16_to_f32(src[i]);
}
