/* attention.c - flash-style attention: per (head, block of 32 queries), keys in blocks of 64,
 * an online softmax, no nq x nk matrix. The body (attention_body.h) is written once with GCC
 * vector extensions and instantiated per instruction set at its register width (AVX-512: 16
 * lanes, AVX2+FMA: 8, portable: 4); exp is a vectorised polynomial (relative error ~1e-7). */
#include "engine/kernels/attention.h"
#include <math.h>
#include <string.h>

/* The vector helpers are always inlined into per-ISA functions: no vector crosses an ABI
 * boundary, so GCC's note about 64-byte vector parameters does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

#define QB 32
#define KB 64

typedef struct {
    const float *q, *k, *v;
    int ldq, ldk, ldv, nq, nk, heads, dh, causal, qblocks;
    float *out;
    int ldo;
} attn_job_t;

#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#define ATTN_VW 16
#define ATTN_NAME(x) x##_avx512
#include "engine/kernels/attention_body.h"
#undef ATTN_VW
#undef ATTN_NAME
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define ATTN_VW 8
#define ATTN_NAME(x) x##_avx2
#include "engine/kernels/attention_body.h"
#undef ATTN_VW
#undef ATTN_NAME
#pragma GCC pop_options

#define ATTN_VW 4
#define ATTN_NAME(x) x##_portable
#include "engine/kernels/attention_body.h"
#undef ATTN_VW
#undef ATTN_NAME

void attention(const kctx_t *kc, const float *q, int ldq, const float *k, int ldk, const float *v,
               int ldv, int nq, int nk, int heads, int dh, int causal, float *out, int ldo) {
    if (dh > ATTN_MAX_HEAD_DIM || nq <= 0) return;
    if (kc->flops)
        __atomic_fetch_add(kc->flops,
                           4ull * (unsigned)nq * (unsigned)nk * (unsigned)dh * (unsigned)heads,
                           __ATOMIC_RELAXED);
    attn_job_t a = {q,   k,  v, ldq, ldk, ldv, nq, nk, heads, dh, causal, (nq + QB - 1) / QB,
                    out, ldo};
    pool_fn fn = kc->isa == ISA_AVX512 ? task_avx512
                 : kc->isa == ISA_AVX2 ? task_avx2
                                       : task_portable;
    pool_run(kc->pool, heads * a.qblocks, fn, &a);
}
