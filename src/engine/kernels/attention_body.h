/* attention_body.h - the attention kernel body, instantiated once per vector width by
 * attention.c: it defines ATTN_VW (lanes of one vector) and ATTN_NAME(x) (a suffixed name) and
 * includes this file inside a `#pragma GCC target` region. Each instruction set gets vectors of
 * its own register width: GCC splits wider generic vectors into pieces through the stack. */

typedef float ATTN_NAME(vf) __attribute__((vector_size(ATTN_VW * 4)));
typedef float ATTN_NAME(vfu) __attribute__((vector_size(ATTN_VW * 4), aligned(4)));
typedef int ATTN_NAME(vi) __attribute__((vector_size(ATTN_VW * 4)));

#define VF ATTN_NAME(vf)
#define VFU ATTN_NAME(vfu)
#define VI ATTN_NAME(vi)
#define NB (KB / ATTN_VW) /* vectors per key block */

static inline __attribute__((always_inline)) VF ATTN_NAME(vsel)(VI mask, VF a, VF b) {
    VI ai, bi;
    memcpy(&ai, &a, sizeof ai);
    memcpy(&bi, &b, sizeof bi);
    VI r = (ai & mask) | (bi & ~mask);
    VF out;
    memcpy(&out, &r, sizeof out);
    return out;
}

static inline __attribute__((always_inline)) VF ATTN_NAME(vmax)(VF a, VF b) {
    return ATTN_NAME(vsel)(a > b, a, b);
}

/* e^x for x <= 0 (softmax arguments), clamped at -87: 2^n * taylor6(r), |r| <= ln2/2 */
static inline __attribute__((always_inline)) VF ATTN_NAME(vexp)(VF x) {
    const VF zero = {0};
    x = ATTN_NAME(vmax)(x, zero - 87.f);
    VF fx = x * 1.44269504088896341f;
    VF t = fx + 12582912.f; /* round to nearest via the float adder */
    VF n = t - 12582912.f;
    VF r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    VF p = zero + 1.f / 720.f;
    p = p * r + 1.f / 120.f;
    p = p * r + 1.f / 24.f;
    p = p * r + 1.f / 6.f;
    p = p * r + 0.5f;
    p = p * r + 1.f;
    p = p * r + 1.f;
    VI e = (__builtin_convertvector(n, VI) + 127) << 23;
    VF scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

static void ATTN_NAME(task)(void *ctx, int task, int thread) {
    (void)thread;
    const attn_job_t *a = ctx;
    int h = task / a->qblocks, q0 = (task % a->qblocks) * QB;
    int nqb = a->nq - q0 < QB ? a->nq - q0 : QB;
    int dh = a->dh;
    float scale = 1.f / sqrtf((float)dh);
    VF s[NB];
    VF kT[ATTN_MAX_HEAD_DIM][NB];
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
        int nbv = (nkb + ATTN_VW - 1) / ATTN_VW; /* vectors of this block holding keys */
        /* K block transposed to [dh][keys], zero-padded */
        for (int j = 0; j < nbv * ATTN_VW; j++) {
            float *col = (float *)kT + j;
            if (j < nkb) {
                const float *kj = a->k + (size_t)(k0 + j) * a->ldk + (size_t)h * dh;
                for (int t = 0; t < dh; t++)
                    col[(size_t)t * KB] = kj[t];
            } else {
                for (int t = 0; t < dh; t++)
                    col[(size_t)t * KB] = 0.f;
            }
        }
        for (int i = 0; i < nqb; i++) {
            const float *qi = a->q + (size_t)(q0 + i) * a->ldq + (size_t)h * dh;
            for (int b = 0; b < NB; b++)
                s[b] = (VF){0};
            for (int t = 0; t < dh; t++) {
                float qv = qi[t];
                for (int b = 0; b < nbv; b++)
                    s[b] += qv * kT[t][b];
            }
            for (int b = 0; b < nbv; b++)
                s[b] *= scale;
            /* masks: padding keys and, when causal, keys after the query */
            int valid = nkb;
            if (a->causal && q0 + i - k0 + 1 < valid) valid = q0 + i - k0 + 1;
            float *sr = (float *)s;
            for (int j = valid; j < nbv * ATTN_VW; j++)
                sr[j] = -INFINITY;
            if (valid <= 0) continue;
            VF mv = s[0];
            for (int b = 1; b < nbv; b++)
                mv = ATTN_NAME(vmax)(mv, s[b]);
            float mx = mv[0];
            for (int u = 1; u < ATTN_VW; u++)
                mx = mv[u] > mx ? mv[u] : mx;
            if (m[i] > mx) mx = m[i];
            float corr = m[i] == -INFINITY ? 0.f : expf(m[i] - mx);
            m[i] = mx;
            VF lsum = {0};
            for (int b = 0; b < nbv; b++) {
                const VF zero = {0};
                VF e = ATTN_NAME(vsel)(s[b] > -INFINITY, ATTN_NAME(vexp)(s[b] - mx), zero);
                s[b] = e;
                lsum += e;
            }
            float ls = 0.f;
            for (int u = 0; u < ATTN_VW; u++)
                ls += lsum[u];
            l[i] = l[i] * corr + ls;
            float *ai = acc[i];
            const float *pr = (const float *)s;
            const float *v0 = a->v + (size_t)k0 * a->ldv + (size_t)h * dh;
            /* one accumulator vector at a time, kept in a register across the keys */
            int t = 0;
            for (; t + ATTN_VW <= dh; t += ATTN_VW) {
                VF av;
                memcpy(&av, ai + t, sizeof av);
                av *= corr;
                for (int j = 0; j < valid; j++)
                    av += pr[j] * *(const VFU *)(v0 + (size_t)j * a->ldv + t);
                memcpy(ai + t, &av, sizeof av);
            }
            for (; t < dh; t++) {
                float x = ai[t] * corr;
                for (int j = 0; j < valid; j++)
                    x += pr[j] * v0[(size_t)j * a->ldv + t];
                ai[t] = x;
            }
        }
    }
    for (int i = 0; i < nqb; i++) {
        float *o = a->out + (size_t)(q0 + i) * a->ldo + (size_t)h * dh;
        float inv = l[i] > 0 ? 1.f / l[i] : 0.f;
        for (int t = 0; t < dh; t++)
            o[t] = acc[i][t] * inv;
    }
}

#undef VF
#undef VFU
#undef VI
#undef NB
