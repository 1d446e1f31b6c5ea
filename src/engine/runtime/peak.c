/* peak.c - peak FLOP/s measurement with twelve independent accumulator chains per thread. */
#include "engine/runtime/peak.h"
#include "common/clock.h"
#include "engine/kernels/cpu.h"
#include "engine/kernels/gemm.h"
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
    int kind; /* 0 avx512, 1 avx2, 2 bf16, 3 amx */
    volatile float sink[256];
} peak_job_t;

static void peak_task(void *ctx, int task, int thread) {
    (void)thread;
    peak_job_t *j = ctx;
    float r = j->kind == 0   ? loop_avx512(j->iters)
              : j->kind == 1 ? loop_avx2(j->iters)
              : j->kind == 2 ? loop_bf16(j->iters)
                             : loop_amx(j->iters);
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
