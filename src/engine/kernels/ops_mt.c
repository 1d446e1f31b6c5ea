/* ops_mt.c - group norm, layer norm and GEGLU on the pool's threads (see ops_mt.h). */
#include "engine/kernels/ops_mt.h"
#include "engine/kernels/ops.h"
#include "common/status.h"
#include <math.h>
#include <string.h>

/* The vector helpers are always inlined into per-ISA functions: no vector crosses an ABI
 * boundary, so GCC's note about 64-byte vector parameters does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#define MT_VW 16
#define MT_NAME(x) x##_avx512
#include "engine/kernels/ops_mt_body.h"
#undef MT_VW
#undef MT_NAME
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define MT_VW 8
#define MT_NAME(x) x##_avx2
#include "engine/kernels/ops_mt_body.h"
#undef MT_VW
#undef MT_NAME
#pragma GCC pop_options

#define MT_VW 4
#define MT_NAME(x) x##_portable
#include "engine/kernels/ops_mt_body.h"
#undef MT_VW
#undef MT_NAME

#define MAX_TASKS 16

typedef void (*affine_fn)(const float *x, float *y, int p0, int p1, int c, const float *m,
                          const float *a, const float *b, int silu);
typedef void (*sums_fn)(const float *x, int p0, int p1, int c, const float *centre, int square,
                        double *acc);

typedef struct {
    const float *x;
    float *y;
    int hw, c, groups, silu, ntasks;
    int phase;           /* 0: sums, 1: squared deviations, 2: normalise */
    const float *centre; /* phases 1, 2: each channel's group mean */
    const float *a, *b;  /* phase 2: per-channel scale (inv std x gamma) and shift (beta) */
    double part[MAX_TASKS][MT_MAX_GROUPS];
    affine_fn affine;
    sums_fn sums;
} gn_job_t;

static void gn_task(void *ctx, int task, int thread) {
    (void)thread;
    gn_job_t *g = ctx;
    int p0 = (int)((long long)g->hw * task / g->ntasks),
        p1 = (int)((long long)g->hw * (task + 1) / g->ntasks);
    if (g->phase == 2) {
        g->affine(g->x, g->y, p0, p1, g->c, g->centre, g->a, g->b, g->silu);
        return;
    }
    double acc[MT_MAX_CHANNELS];
    memset(acc, 0, sizeof(double) * (size_t)g->c);
    g->sums(g->x, p0, p1, g->c, g->phase == 1 ? g->centre : NULL, g->phase == 1, acc);
    int cg = g->c / g->groups;
    for (int k = 0; k < g->groups; k++) {
        double s = 0;
        for (int i = 0; i < cg; i++)
            s += acc[k * cg + i];
        g->part[task][k] = s;
    }
}

static void gn_reduce(const gn_job_t *g, double *out) {
    for (int k = 0; k < g->groups; k++) {
        out[k] = 0;
        for (int t = 0; t < g->ntasks; t++)
            out[k] += g->part[t][k];
    }
}

static void gn_job_init(const kctx_t *kc, gn_job_t *g, const float *x, int hw, int c, int groups,
                        int silu, float *y) {
    memset(g, 0, sizeof *g);
    g->x = x;
    g->y = y;
    g->hw = hw;
    g->c = c;
    g->groups = groups;
    g->silu = silu;
    switch (kc->isa) {
    case ISA_AVX512:
        g->affine = affine_avx512;
        g->sums = channel_sums_avx512;
        break;
    case ISA_AVX2:
        g->affine = affine_avx2;
        g->sums = channel_sums_avx2;
        break;
    default:
        g->affine = affine_portable;
        g->sums = channel_sums_portable;
        break;
    }
    int threads = pool_threads(kc->pool);
    g->ntasks = 4 * threads < MAX_TASKS ? 4 * threads : MAX_TASKS;
    if (g->ntasks > (hw + 63) / 64) g->ntasks = (hw + 63) / 64;
    if (g->ntasks < 1) g->ntasks = 1;
}

int mt_groupnorm_affine(const kctx_t *kc, const float *x, int hw, int c, int groups,
                        const float *gamma, const float *beta, float eps, int silu,
                        gn_affine_t *out) {
    if (groups <= 0 || groups > MT_MAX_GROUPS || c > MT_MAX_CHANNELS || c % groups || hw <= 0)
        return IMG_EINVAL;
    gn_job_t g;
    gn_job_init(kc, &g, x, hw, c, groups, silu, NULL);
    int cg = c / groups;
    double n = (double)hw * cg, s[MT_MAX_GROUPS], q[MT_MAX_GROUPS];
    pool_run(kc->pool, g.ntasks, gn_task, &g);
    gn_reduce(&g, s);
    for (int ch = 0; ch < c; ch++)
        out->centre[ch] = (float)(s[ch / cg] / n);
    g.phase = 1;
    g.centre = out->centre;
    pool_run(kc->pool, g.ntasks, gn_task, &g);
    gn_reduce(&g, q);
    for (int ch = 0; ch < c; ch++) {
        int k = ch / cg;
        float inv = (float)(1.0 / sqrt(q[k] / n + eps));
        out->a[ch] = inv * gamma[ch];
        out->b[ch] = beta[ch];
    }
    out->c = c;
    out->silu = silu;
    return IMG_OK;
}

void mt_affine_apply(const kctx_t *kc, const gn_affine_t *nrm, const float *x, int hw, float *y) {
    gn_job_t g;
    gn_job_init(kc, &g, x, hw, nrm->c, 1, nrm->silu, y);
    g.phase = 2;
    g.centre = nrm->centre;
    g.a = nrm->a;
    g.b = nrm->b;
    pool_run(kc->pool, g.ntasks, gn_task, &g);
}

void mt_groupnorm(const kctx_t *kc, const float *x, int hw, int c, int groups, const float *gamma,
                  const float *beta, float eps, int silu, float *y) {
    gn_affine_t nrm; /* 48 KiB */
    if (mt_groupnorm_affine(kc, x, hw, c, groups, gamma, beta, eps, silu, &nrm)) {
        op_groupnorm(x, hw, c, groups, gamma, beta, eps, silu, y);
        return;
    }
    mt_affine_apply(kc, &nrm, x, hw, y);
}

typedef struct {
    const float *x;
    float *y;
    int rows, c, ntasks;
    const float *gamma, *beta;
    float eps;
} rows_job_t;

static void ln_task(void *ctx, int task, int thread) {
    (void)thread;
    const rows_job_t *r = ctx;
    int r0 = (int)((long long)r->rows * task / r->ntasks),
        r1 = (int)((long long)r->rows * (task + 1) / r->ntasks);
    op_layernorm(r->x + (size_t)r0 * r->c, r1 - r0, r->c, r->gamma, r->beta, r->eps,
                 r->y + (size_t)r0 * r->c);
}

typedef void (*geglu_fn)(const float *x, int r0, int r1, int d, float *y);

typedef struct {
    rows_job_t r;
    geglu_fn fn;
} geglu_job_t;

static void geglu_task(void *ctx, int task, int thread) {
    (void)thread;
    const geglu_job_t *g = ctx;
    const rows_job_t *r = &g->r; /* c: GEGLU's d */
    int r0 = (int)((long long)r->rows * task / r->ntasks),
        r1 = (int)((long long)r->rows * (task + 1) / r->ntasks);
    g->fn(r->x, r0, r1, r->c, r->y);
}

static int row_tasks(const kctx_t *kc, int rows) {
    int t = 4 * pool_threads(kc->pool);
    return rows < t ? (rows > 0 ? rows : 1) : t;
}

void mt_layernorm(const kctx_t *kc, const float *x, int rows, int c, const float *gamma,
                  const float *beta, float eps, float *y) {
    rows_job_t r = {x, y, rows, c, row_tasks(kc, rows), gamma, beta, eps};
    pool_run(kc->pool, r.ntasks, ln_task, &r);
}

void mt_geglu(const kctx_t *kc, const float *x, int rows, int d, float *y) {
    geglu_job_t g = {{x, y, rows, d, row_tasks(kc, rows), NULL, NULL, 0.f}, geglu_rows_portable};
    if (kc->isa == ISA_AVX512)
        g.fn = geglu_rows_avx512;
    else if (kc->isa == ISA_AVX2)
        g.fn = geglu_rows_avx2;
    pool_run(kc->pool, g.r.ntasks, geglu_task, &g);
}
