/* peak.c - peak FLOP/s measurement with twelve independent accumulator chains per thread. */
#include "engine/runtime/peak.h"
#include "common/clock.h"
#include "engine/kernels/cpu.h"
#include "engine/kernels/gemm.h"
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wpsabi"

#define CHAIN_VARS(T) T a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11
#define CHAIN_ALL(OP) OP(a0); OP(a1); OP(a2); OP(a3); OP(a4); OP(a5); OP(a6); OP(a7); OP(a8); OP(a9); OP(a10); OP(a11)
#define SUM12(add) add(add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7))), add(add(a8, a9), add(a10, a11)))

__attribute__((target("avx512f,fma"))) static float loop_avx512(long iters) {
    __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    CHAIN_VARS(__m512);
    volatile float seed = 1.f; /* opaque, distinct start values: the chains cannot be merged */
#define INIT(x) x = _mm512_set1_ps(seed); seed = seed + 1.f
    CHAIN_ALL(INIT);
#undef INIT
    for (long it = 0; it < iters; it++) {
#define STEP(x) x = _mm512_fmadd_ps(x, b, c)
        CHAIN_ALL(STEP);
#undef STEP
    }
    return _mm512_reduce_add_ps(SUM12(_mm512_add_ps));
}

__attribute__((target("avx2,fma"))) static float loop_avx2(long iters) {
    __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    CHAIN_VARS(__m256);
    volatile float seed = 1.f;
#define INIT(x) x = _mm256_set1_ps(seed); seed = seed + 1.f
    CHAIN_ALL(INIT);
#undef INIT
    for (long it = 0; it < iters; it++) {
#define STEP(x) x = _mm256_fmadd_ps(x, b, c)
        CHAIN_ALL(STEP);
#undef STEP
    }
    __m256 s = SUM12(_mm256_add_ps);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

__attribute__((target("avx512f,avx512bf16"))) static float loop_bf16(long iters) {
    __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3f80);
    CHAIN_VARS(__m512);
    volatile float seed = 0.f;
#define INIT(v) v = _mm512_set1_ps(seed); seed = seed + 1.f
    CHAIN_ALL(INIT);
#undef INIT
    for (long it = 0; it < iters; it++) {
#define STEP(v) v = _mm512_dpbf16_ps(v, x, y)
        CHAIN_ALL(STEP);
#undef STEP
    }
    return _mm512_reduce_add_ps(SUM12(_mm512_add_ps));
}

/* The integer chains' lanes summed as unsigned 32-bit values, which wrap (the chains run for
 * millions of steps; a signed sum, as _mm512_reduce_add_epi32 does in C, would overflow): an
 * opaque result that keeps the loops from being optimised away. */
static float lanes_sum(const uint32_t *lane, int n) {
    uint32_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += lane[i];
    return (float)sum;
}

__attribute__((target("avx512f"))) static float lanes_sum512(__m512i v) {
    uint32_t lane[16];
    _mm512_storeu_si512((void *)lane, v);
    return lanes_sum(lane, 16);
}

__attribute__((target("avx2"))) static float lanes_sum256(__m256i v) {
    uint32_t lane[8];
    _mm256_storeu_si256((__m256i *)lane, v);
    return lanes_sum(lane, 8);
}

/* Distinct, opaque start values for twelve 32-bit integer chains (seed: a volatile int). */
#define INIT_I256(x)                                                                               \
    x = _mm256_set1_epi32(seed);                                                                   \
    seed = seed + 1

/* 8-bit products into 32-bit sums. With VNNI one instruction (VPDPBUSD: unsigned by signed
 * bytes, four products a lane, added to the lane) chains on its accumulator like an FMA. */
__attribute__((target("avx512f,avx512vnni"))) static float loop_vnni512(long iters) {
    __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);
    CHAIN_VARS(__m512i);
    volatile int seed = 1;
#define INIT(x)                                                                                    \
    x = _mm512_set1_epi32(seed);                                                                   \
    seed = seed + 1
    CHAIN_ALL(INIT);
#undef INIT
    for (long it = 0; it < iters; it++) {
#define STEP(x) x = _mm512_dpbusd_epi32(x, u, s)
        CHAIN_ALL(STEP);
#undef STEP
    }
    return lanes_sum512(SUM12(_mm512_add_epi32));
}

__attribute__((target("avx2,avxvnni"))) static float loop_vnni256(long iters) {
    __m256i u = _mm256_set1_epi8(3), s = _mm256_set1_epi8(-2);
    CHAIN_VARS(__m256i);
    volatile int seed = 1;
    CHAIN_ALL(INIT_I256);
    for (long it = 0; it < iters; it++) {
#define STEP(x) x = _mm256_dpbusd_avx_epi32(x, u, s)
        CHAIN_ALL(STEP);
#undef STEP
    }
    return lanes_sum256(SUM12(_mm256_add_epi32));
}

/* Without VNNI: VPMADDUBSW (pairs of unsigned by signed bytes into 16 bits), VPMADDWD by ones
 * (pairs of those into 32 bits), VPADDD into the sum - 32 products per three instructions. Each
 * chain feeds its sum back in as the next bytes, so that no step is loop-invariant. */
__attribute__((target("avx2"))) static float loop_int8_avx2(long iters) {
    __m256i s = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1),
            c = _mm256_set1_epi32(0x01010101);
    CHAIN_VARS(__m256i);
    volatile int seed = 1;
    CHAIN_ALL(INIT_I256);
    for (long it = 0; it < iters; it++) {
#define STEP(x) x = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(x, s), ones), c)
        CHAIN_ALL(STEP);
#undef STEP
    }
    return lanes_sum256(SUM12(_mm256_add_epi32));
}

typedef enum { INT8_NONE = 0, INT8_VNNI512, INT8_VNNI256, INT8_AVX2 } int8_level_t;

/* From CPUID: leaf 7 ECX bit 11 AVX512-VNNI, leaf 7 subleaf 1 EAX bit 4 AVX-VNNI (clang's
 * __builtin_cpu_supports knows neither name). The OS's saving of the registers is what
 * cpu_supports checks for the AVX-512 and AVX2 levels. */
static int8_level_t int8_level(void) {
    unsigned a, b, c, d;
    if (cpu_supports(ISA_AVX512) && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c >> 11 & 1))
        return INT8_VNNI512;
    if (!cpu_supports(ISA_AVX2)) return INT8_NONE;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 4 & 1)) return INT8_VNNI256;
    return INT8_AVX2;
}

const char *peak_int8_name(void) {
    static const char *const names[] = {NULL, "avx512-vnni", "avx-vnni", "avx2"};
    return names[int8_level()];
}

/* Four independent 16 x 16 f32 accumulator tiles, each TDPBF16PS 16 x 16 x 32 products. */
__attribute__((target("amx-tile,amx-bf16"))) static float loop_amx(long iters) {
    uint16_t ones[16 * 32] __attribute__((aligned(64))); /* bfloat16 1.0: not zeros */
    for (int i = 0; i < 16 * 32; i++)
        ones[i] = 0x3f80;
    float out[16 * 16] __attribute__((aligned(64)));
    gemm_amx_begin();                  /* every tile 16 x 64 bytes */
    __asm__ volatile("" ::: "memory"); /* the tile loads below read ones */
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, ones, 64);
    _tile_loadd(5, ones, 64);
    _tile_loadd(6, ones, 64);
    _tile_loadd(7, ones, 64);
    for (long it = 0; it < iters; it++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, out, 64);
    gemm_amx_end();
    return out[0];
}

typedef struct {
    long iters;
    int kind; /* 0 avx512, 1 avx2, 2 bf16, 3 amx, 4 int8 avx512-vnni, 5 avx-vnni, 6 int8 avx2 */
    volatile float sink[256];
} peak_job_t;

static void peak_task(void *ctx, int task, int thread) {
    (void)thread;
    peak_job_t *j = ctx;
    float r = j->kind == 0   ? loop_avx512(j->iters)
              : j->kind == 1 ? loop_avx2(j->iters)
              : j->kind == 2 ? loop_bf16(j->iters)
              : j->kind == 3 ? loop_amx(j->iters)
              : j->kind == 4 ? loop_vnni512(j->iters)
              : j->kind == 5 ? loop_vnni256(j->iters)
                             : loop_int8_avx2(j->iters);
    j->sink[task & 255] = r;
}

double peak_flops(pool_t *pool, int threads, peak_kind_t kind, isa_t isa) {
    __builtin_cpu_init();
    peak_job_t j;
    memset(&j, 0, sizeof j);
    j.iters = 20000000;
    double lanes; /* products per instruction and chain (12 chains, 4 tiles) */
    if (kind == PEAK_AMX) {
        if (!cpu_amx_enable()) return 0;
        j.kind = 3;
        j.iters /= 16;           /* a tile product is 16 x 16 x 32: 8192 products */
        lanes = 8192.0 * 4 / 12; /* per loop trip, as if over 12 chains */
    } else if (kind == PEAK_INT8) {
        int8_level_t lv = int8_level();
        if (lv == INT8_NONE) return 0;
        j.kind = 3 + (int)lv; /* 4 avx512-vnni, 5 avx-vnni, 6 avx2 */
        lanes =
            lv == INT8_VNNI512 ? 64 : 32; /* products per instruction (the AVX2 mix: per three) */
    } else if (kind == PEAK_BF16) {
        if (!__builtin_cpu_supports("avx512bf16")) return 0;
        j.kind = 2;
        lanes = 32; /* 32 bf16 products per instruction */
    } else if (isa != ISA_AVX2 && cpu_supports(ISA_AVX512)) {
        j.kind = 0;
        lanes = 16;
    } else if (cpu_supports(ISA_AVX2)) {
        j.kind = 1;
        lanes = 8;
    } else {
        return 0;
    }
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = clock_mono();
        pool_run(pool, threads, peak_task, &j);
        double dt = clock_mono() - t0;
        double flops = (double)threads * (double)j.iters * 12.0 * lanes * 2.0;
        if (dt > 0 && flops / dt > best) best = flops / dt;
    }
    return best;
}
