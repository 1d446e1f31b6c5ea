/* kctx.h - what every kernel call needs: the thread pool and the instruction-set level. */
#ifndef IMGAPI_ENGINE_KERNELS_KCTX_H
#define IMGAPI_ENGINE_KERNELS_KCTX_H
#include "engine/kernels/cpu.h"
#include "engine/runtime/threadpool.h"

typedef struct {
    pool_t *pool; /* may be NULL: single-threaded */
    isa_t isa;
    int bf16; /* precision bf16: models pack their weights as bfloat16 pairs (gemm_w_to_dp) */
    int amx;  /* with isa avx512: bfloat16 pairs run on AMX tiles (cpu_amx_enable granted them) */
    unsigned long long *flops; /* when set, GEMM and attention add their FLOPs (benchmarks) */
} kctx_t;

#endif
