/* attention.c - two ways, neither storing an nq x nk matrix:
 * - fused (short key sequences, causal masks, portable code): per (head, block of 32 queries),
 *   keys in blocks of 64, an online softmax. The body (attention_body.h) is written once with
 *   GCC vector extensions and instantiated per instruction set at its register width (AVX-512:
 *   16 lanes, AVX2+FMA: 8, portable: 4); exp is a vectorised polynomial (relative error ~1e-7).
 * - blocked (AVX2/AVX-512, at least BLOCK_MIN_KEYS keys): K and V of each head are packed once
 *   as the W of the packed GEMM, then per (head, block of RB queries) S = Q K^T is one GEMM
 *   into a per-thread RB x nk buffer, its rows are soft-maxed in place, and O = P V is a second
 *   GEMM. The micro-kernels run near their peak where the fused loop's dot products and
 *   rescaling do not; the buffer is RB rows, never nq. */
#include "engine/kernels/attention.h"
#include "engine/kernels/gemm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_MIN_KEYS 256
#define RB 48 /* query rows per block: a multiple of both micro-kernels' row counts */

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

typedef struct {
    const kctx_t *kc;
    const float *q, *k, *v;
    int ldq, ldk, ldv, nq, nk, heads, dh, qblocks;
    gemm_w_t *kp, *vp; /* per head; panels in packed, or in packed_dp */
    float *packed;
    size_t kfloats, vfloats; /* per head */
    uint16_t *packed_dp;     /* precision bf16: K and V as bfloat16 pairs, else NULL */
    size_t kvals, vvals;     /* per head, in packed_dp */
    float *scores;           /* per thread: RB x nk */
    float *out;
    int ldo;
    void (*softmax)(float *s, int rows, int n, float scale, float *inv);
} blk_job_t;

/* w's f32 panels rounded into bfloat16 pairs at dst, which w then reads. */
static void panels_to_dp(gemm_w_t *w, uint16_t *dst) {
    gemm_panels_to_dp(w->data, w->npanels, w->k, dst);
    w->data = dst;
    w->dp = 1;
}

static void blk_pack(void *ctx, int task, int thread) {
    (void)thread;
    blk_job_t *b = ctx;
    int h = task % b->heads;
    float *base = b->packed + (size_t)h * (b->kfloats + b->vfloats);
    uint16_t *dp = b->packed_dp ? b->packed_dp + (size_t)h * (b->kvals + b->vvals) : NULL;
    if (task < b->heads) { /* K: W[key][t] = k[key * ldk + h * dh + t] */
        gemm_pack_into(base, b->k + (size_t)h * b->dh, b->nk, b->dh, (size_t)b->ldk, 1, &b->kp[h]);
        if (dp) panels_to_dp(&b->kp[h], dp);
    } else { /* V as the W of P V: W[t][key] = v[key * ldv + h * dh + t] */
        gemm_pack_into(base + b->kfloats, b->v + (size_t)h * b->dh, b->dh, b->nk, 1, (size_t)b->ldv,
                       &b->vp[h]);
        if (dp) panels_to_dp(&b->vp[h], dp + b->kvals);
    }
}

static void blk_task(void *ctx, int task, int thread) {
    const blk_job_t *b = ctx;
    int h = task / b->qblocks, q0 = (task % b->qblocks) * RB;
    int rows = b->nq - q0 < RB ? b->nq - q0 : RB;
    float *s = b->scores + (size_t)thread * RB * (size_t)b->nk;
    float inv[RB];
    gemm_serial(b->kc, rows, b->q + (size_t)q0 * b->ldq + (size_t)h * b->dh, b->ldq, &b->kp[h],
                NULL, s, b->nk, 0);
    b->softmax(s, rows, b->nk, 1.f / sqrtf((float)b->dh), inv);
    float *o = b->out + (size_t)q0 * b->ldo + (size_t)h * b->dh;
    gemm_serial(b->kc, rows, s, b->nk, &b->vp[h], NULL, o, b->ldo, 0);
    for (int i = 0; i < rows; i++)
        for (int t = 0; t < b->dh; t++)
            o[(size_t)i * b->ldo + t] *= inv[i];
}

/* The blocked path; 0 when its buffers could not be allocated (the fused path runs then). */
static int attention_blocked(const kctx_t *kc, const float *q, int ldq, const float *k, int ldk,
                             const float *v, int ldv, int nq, int nk, int heads, int dh, float *out,
                             int ldo) {
    blk_job_t b = {.kc = kc,
                   .q = q,
                   .k = k,
                   .v = v,
                   .ldq = ldq,
                   .ldk = ldk,
                   .ldv = ldv,
                   .nq = nq,
                   .nk = nk,
                   .heads = heads,
                   .dh = dh,
                   .qblocks = (nq + RB - 1) / RB,
                   .out = out,
                   .ldo = ldo,
                   .softmax = kc->isa == ISA_AVX512 ? softmax_rows_avx512 : softmax_rows_avx2};
    b.kfloats = gemm_pack_floats(nk, dh);
    b.vfloats = gemm_pack_floats(dh, nk);
    /* precision bf16: S = Q K^T and O = P V on the dot-product kernels too, K and V rounded
     * once per call, Q and P as the kernels pack them (the model's tolerance holds: README) */
    if (kc->bf16) {
        gemm_w_t kd = {.n = nk, .k = dh, .npanels = (nk + GEMM_NR - 1) / GEMM_NR, .dp = 1};
        gemm_w_t vd = {.n = dh, .k = nk, .npanels = (dh + GEMM_NR - 1) / GEMM_NR, .dp = 1};
        b.kvals = gemm_w_bytes(&kd) / sizeof(uint16_t);
        b.vvals = gemm_w_bytes(&vd) / sizeof(uint16_t);
    }
    int threads = pool_threads(kc->pool);
    void *packed = NULL, *scores = NULL, *packed_dp = NULL; /* freed below */
    b.kp = calloc((size_t)heads * 2, sizeof *b.kp);
    b.vp = b.kp ? b.kp + heads : NULL;
    if (!b.kp ||
        posix_memalign(&packed, 64, sizeof(float) * (size_t)heads * (b.kfloats + b.vfloats)) ||
        posix_memalign(&scores, 64, sizeof(float) * (size_t)threads * RB * (size_t)nk) ||
        (kc->bf16 && posix_memalign(&packed_dp, 64, sizeof(uint16_t) * (size_t)heads * (b.kvals + b.vvals)))) {
        free(b.kp);
        free(packed);
        free(scores);
        return 0;
    }
    b.packed = packed;
    b.scores = scores;
    b.packed_dp = packed_dp;
    pool_run(kc->pool, 2 * heads, blk_pack, &b);
    pool_run(kc->pool, heads * b.qblocks, blk_task, &b);
    free(packed_dp);
    free(scores);
    free(packed);
    free(b.kp);
    return 1;
}

void attention_fused(const kctx_t *kc, const float *q, int ldq, const float *k, int ldk,
                     const float *v, int ldv, int nq, int nk, int heads, int dh, int causal,
                     float *out, int ldo) {
    attn_job_t a = {q,   k,  v, ldq, ldk, ldv, nq, nk, heads, dh, causal, (nq + QB - 1) / QB,
                    out, ldo};
    pool_fn fn = kc->isa == ISA_AVX512 ? task_avx512
                 : kc->isa == ISA_AVX2 ? task_avx2
                                       : task_portable;
    pool_run(kc->pool, heads * a.qblocks, fn, &a);
}

void attention(const kctx_t *kc, const float *q, int ldq, const float *k, int ldk, const float *v,
               int ldv, int nq, int nk, int heads, int dh, int causal, float *out, int ldo) {
    if (dh > ATTN_MAX_HEAD_DIM || nq <= 0) return;
    if (kc->flops)
        __atomic_fetch_add(kc->flops,
                           4ull * (unsigned)nq * (unsigned)nk * (unsigned)dh * (unsigned)heads,
                           __ATOMIC_RELAXED);
    if (!causal && nk >= BLOCK_MIN_KEYS && (kc->isa == ISA_AVX2 || kc->isa == ISA_AVX512) &&
        attention_blocked(kc, q, ldq, k, ldk, v, ldv, nq, nk, heads, dh, out, ldo))
        return;
    attention_fused(kc, q, ldq, k, ldk, v, ldv, nq, nk, heads, dh, causal, out, ldo);
}
