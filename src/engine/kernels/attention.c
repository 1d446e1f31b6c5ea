/* attention.c - flash-style attention: per (head, block of 16 queries), keys in blocks of 64. */
#include "engine/kernels/attention.h"
#include <math.h>
#include <string.h>

#define QB 16
#define KB 64

typedef struct {
    const float *q, *k, *v;
    int ldq, ldk, ldv, nq, nk, heads, dh, causal, qblocks;
    float *out;
    int ldo;
} attn_job_t;

static void attn_task(void *ctx, int task, int thread) {
    (void)thread;
    const attn_job_t *a = ctx;
    int h = task / a->qblocks, q0 = (task % a->qblocks) * QB;
    int nqb = a->nq - q0 < QB ? a->nq - q0 : QB;
    int dh = a->dh;
    float scale = 1.f / sqrtf((float)dh);
    float s[QB][KB];
    float acc[QB][ATTN_MAX_HEAD_DIM];
    float m[QB], l[QB];
    for (int i = 0; i < nqb; i++) {
        m[i] = -INFINITY;
        l[i] = 0.f;
        memset(acc[i], 0, sizeof(float) * (size_t)dh);
    }
    int kend = a->causal ? (q0 + nqb < a->nk ? q0 + nqb : a->nk) : a->nk;
    for (int k0 = 0; k0 < kend; k0 += KB) {
        int nkb = kend - k0 < KB ? kend - k0 : KB;
        for (int i = 0; i < nqb; i++) {
            const float *qi = a->q + (size_t)(q0 + i) * a->ldq + (size_t)h * dh;
            float mx = m[i];
            for (int j = 0; j < nkb; j++) {
                const float *kj = a->k + (size_t)(k0 + j) * a->ldk + (size_t)h * dh;
                float d = 0.f;
                for (int t = 0; t < dh; t++) d += qi[t] * kj[t];
                d *= scale;
                if (a->causal && k0 + j > q0 + i) d = -INFINITY;
                s[i][j] = d;
                mx = d > mx ? d : mx;
            }
            /* rescale what was accumulated under the old maximum */
            float corr = m[i] == -INFINITY ? 0.f : expf(m[i] - mx);
            if (mx == -INFINITY) continue;
            l[i] *= corr;
            for (int t = 0; t < dh; t++) acc[i][t] *= corr;
            m[i] = mx;
            for (int j = 0; j < nkb; j++) {
                float p = s[i][j] == -INFINITY ? 0.f : expf(s[i][j] - mx);
                l[i] += p;
                const float *vj = a->v + (size_t)(k0 + j) * a->ldv + (size_t)h * dh;
                for (int t = 0; t < dh; t++) acc[i][t] += p * vj[t];
            }
        }
    }
    for (int i = 0; i < nqb; i++) {
        float *o = a->out + (size_t)(q0 + i) * a->ldo + (size_t)h * dh;
        float inv = l[i] > 0 ? 1.f / l[i] : 0.f;
        for (int t = 0; t < dh; t++) o[t] = acc[i][t] * inv;
    }
}

void attention(const kctx_t *kc, const float *q, int ldq, const float *k, int ldk, const float *v,
               int ldv, int nq, int nk, int heads, int dh, int causal, float *out, int ldo) {
    if (dh > ATTN_MAX_HEAD_DIM || nq <= 0) return;
    attn_job_t a = {q, k, v, ldq, ldk, ldv, nq, nk, heads, dh, causal, (nq + QB - 1) / QB, out, ldo};
    pool_run(kc->pool, heads * a.qblocks, attn_task, &a);
}
