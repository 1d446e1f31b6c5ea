/* kctx.h - what every kernel call needs: the thread pool and the instruction-set level. */
#ifndef IMGAPI_ENGINE_KERNELS_KCTX_H
#define IMGAPI_ENGINE_KERNELS_KCTX_H
#include "engine/kernels/cpu.h"
#include "engine/runtime/arena.h"
#include "engine/runtime/threadpool.h"

typedef struct {
    pool_t *pool; /* may be NULL: single-threaded */
    isa_t isa;
    int bf16; /* precision bf16: models pack their weights as bfloat16 pairs (gemm_w_to_dp) */
    int amx;  /* with isa avx512: bfloat16 pairs run on AMX tiles (cpu_amx_enable granted them) */
    unsigned long long *flops; /* when set, GEMM and attention add their FLOPs (benchmarks) */
    /* may be NULL: work memory a kernel call borrows for its duration (Winograd's transformed
     * tiles and weights), kept between calls so that every convolution does not fault in fresh
     * pages (a quarter of a VAE's time when it did). Owned by kctx_create's caller through
     * kctx_destroy. Called from one thread at a time, like everything using this context. */
    arena_t *scratch;
} kctx_t;

#endif
