/* attention.c - flash-style attention: per (head, block of 32 queries), keys in blocks of 64,
 * an online softmax, no nq x nk matrix. The body is written once with GCC vector extensions and
 * instantiated per instruction set (AVX-512, AVX2+FMA, portable); exp is a vectorised
 * polynomial (relative error ~1e-7). */
#include "engine/kernels/attention.h"
#include <math.h>
#include <string.h>

/* The vector helpers below are always inlined into per-ISA functions: no vector crosses an ABI
 * boundary, so GCC's note about 64-byte vector parameters does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

#define QB 32
#define KB 64
#define VW 16

typedef float vf __attribute__((vector_size(64)));
typedef float vfu __attribute__((vector_size(64), aligned(4)));
typedef float vf8u __attribute__((vector_size(32), aligned(4)));
typedef int vi __attribute__((vector_size(64)));

typedef struct {
    const float *q, *k, *v;
    int ldq, ldk, ldv, nq, nk, heads, dh, causal, qblocks;
    float *out;
    int ldo;
} attn_job_t;

static inline __attribute__((always_inline)) vf vsel(vi mask, vf a, vf b) {
    vi ai, bi;
    memcpy(&ai, &a, sizeof ai);
    memcpy(&bi, &b, sizeof bi);
    vi r = (ai & mask) | (bi & ~mask);
    vf out;
    memcpy(&out, &r, sizeof out);
    return out;
}

static inline __attribute__((always_inline)) vf vmax(vf a, vf b) { return vsel(a > b, a, b); }

/* e^x for x <= 0 (softmax arguments), clamped at -87: 2^n * taylor6(r), |r| <= ln2/2 */
static inline __attribute__((always_inline)) vf vexp(vf x) {
    const vf lo = {-87.f, -87.f, -87.f, -87.f, -87.f, -87.f, -87.f, -87.f, -87.f, -87.f, -87.f, -87.f, -87.f, -87.f, -87.f, -87.f};
    x = vmax(x, lo);
    vf fx = x * 1.44269504088896341f;
    vf t = fx + 12582912.f; /* round to nearest via the float adder */
    vf n = t - 12582912.f;
    vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = 1.f / 720.f + r * 0.f;
    p = p * r + 1.f / 120.f;
    p = p * r + 1.f / 24.f;
    p = p * r + 1.f / 6.f;
    p = p * r + 0.5f;
    p = p * r + 1.f;
    p = p * r + 1.f;
    vi e = (__builtin_convertvector(n, vi) + 127) << 23;
    vf scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

static inline __attribute__((always_inline)) float hmax(vf v) {
    float m = v[0];
    for (int i = 1; i < VW; i++) m = v[i] > m ? v[i] : m;
    return m;
}

static inline __attribute__((always_inline)) float hsum(vf v) {
    float s = 0;
    for (int i = 0; i < VW; i++) s += v[i];
    return s;
}

static inline __attribute__((always_inline)) void attn_body(const attn_job_t *a, int task) {
    int h = task / a->qblocks, q0 = (task % a->qblocks) * QB;
    int nqb = a->nq - q0 < QB ? a->nq - q0 : QB;
    int dh = a->dh;
    float scale = 1.f / sqrtf((float)dh);
    vf s[QB][KB / VW];
    vf kT[ATTN_MAX_HEAD_DIM][KB / VW];
    float acc[QB][ATTN_MAX_HEAD_DIM] __attribute__((aligned(64)));
    float m[QB], l[QB];
    for (int i = 0; i < nqb; i++) {
        m[i] = -INFINITY;
        l[i] = 0.f;
        memset(acc[i], 0, sizeof(float) * (size_t)dh);
    }
    int kend = a->causal ? (q0 + nqb < a->nk ? q0 + nqb : a->nk) : a->nk;
    for (int k0 = 0; k0 < kend; k0 += KB) {
        int nkb = kend - k0 < KB ? kend - k0 : KB;
        /* K block transposed to [dh][64], zero-padded */
        for (int t = 0; t < dh; t++) {
            float *row = (float *)kT[t];
            for (int j = 0; j < KB; j++)
                row[j] = j < nkb ? a->k[(size_t)(k0 + j) * a->ldk + (size_t)h * dh + t] : 0.f;
        }
        for (int i = 0; i < nqb; i++) {
            const float *qi = a->q + (size_t)(q0 + i) * a->ldq + (size_t)h * dh;
            vf s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
            for (int t = 0; t < dh; t++) {
                float qv = qi[t];
                s0 += qv * kT[t][0];
                s1 += qv * kT[t][1];
                s2 += qv * kT[t][2];
                s3 += qv * kT[t][3];
            }
            s[i][0] = s0 * scale;
            s[i][1] = s1 * scale;
            s[i][2] = s2 * scale;
            s[i][3] = s3 * scale;
            /* masks: padding keys and, when causal, keys after the query */
            int valid = nkb;
            if (a->causal && q0 + i - k0 + 1 < valid) valid = q0 + i - k0 + 1;
            float *sr = (float *)s[i];
            for (int j = valid; j < KB; j++) sr[j] = -INFINITY;
            if (valid <= 0) continue;
            vf mv = s[i][0];
            for (int b = 1; b < KB / VW; b++) mv = vmax(mv, s[i][b]);
            float mx = hmax(mv);
            if (m[i] > mx) mx = m[i];
            float corr = m[i] == -INFINITY ? 0.f : expf(m[i] - mx);
            m[i] = mx;
            vf lsum = {0};
            for (int b = 0; b < KB / VW; b++) {
                const vf zero = {0};
                vf e = vsel(s[i][b] > -INFINITY, vexp(s[i][b] - mx), zero); /* masked keys: 0 */
                s[i][b] = e;
                lsum += e;
            }
            l[i] = l[i] * corr + hsum(lsum);
            float *ai = acc[i];
            if (corr != 1.f)
                for (int t = 0; t < dh; t++) ai[t] *= corr;
            const float *pr = (const float *)s[i];
            for (int j = 0; j < valid; j++) {
                float p = pr[j];
                const float *vj = a->v + (size_t)(k0 + j) * a->ldv + (size_t)h * dh;
                int t = 0;
                for (; t + VW <= dh; t += VW) {
                    vf av;
                    memcpy(&av, ai + t, sizeof av);
                    av += p * *(const vfu *)(vj + t);
                    memcpy(ai + t, &av, sizeof av);
                }
                for (; t + 8 <= dh; t += 8) { /* head sizes like 8, 40: an 8-wide step */
                    vf8u av = *(vf8u *)(ai + t);
                    av += p * *(const vf8u *)(vj + t);
                    *(vf8u *)(ai + t) = av;
                }
                for (; t < dh; t++) ai[t] += p * vj[t];
            }
        }
    }
    for (int i = 0; i < nqb; i++) {
        float *o = a->out + (size_t)(q0 + i) * a->ldo + (size_t)h * dh;
        float inv = l[i] > 0 ? 1.f / l[i] : 0.f;
        for (int t = 0; t < dh; t++) o[t] = acc[i][t] * inv;
    }
}

__attribute__((target("avx512f,avx2,fma"))) static void task_avx512(void *ctx, int task, int thread) {
    (void)thread;
    attn_body(ctx, task);
}

__attribute__((target("avx2,fma"))) static void task_avx2(void *ctx, int task, int thread) {
    (void)thread;
    attn_body(ctx, task);
}

static void task_portable(void *ctx, int task, int thread) {
    (void)thread;
    attn_body(ctx, task);
}

void attention(const kctx_t *kc, const float *q, int ldq, const float *k, int ldk, const float *v,
               int ldv, int nq, int nk, int heads, int dh, int causal, float *out, int ldo) {
    if (dh > ATTN_MAX_HEAD_DIM || nq <= 0) return;
    if (kc->flops)
        __atomic_fetch_add(kc->flops, 4ull * (unsigned)nq * (unsigned)nk * (unsigned)dh * (unsigned)heads,
                           __ATOMIC_RELAXED);
    attn_job_t a = {q, k, v, ldq, ldk, ldv, nq, nk, heads, dh, causal, (nq + QB - 1) / QB, out, ldo};
    pool_fn fn = kc->isa == ISA_AVX512 ? task_avx512 : kc->isa == ISA_AVX2 ? task_avx2 : task_portable;
    pool_run(kc->pool, heads * a.qblocks, fn, &a);
}
