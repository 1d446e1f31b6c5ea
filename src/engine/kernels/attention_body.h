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

#define VEC_NAME(x) ATTN_NAME(x)
#include "engine/kernels/vec_body.h" /* vsel, vmax, vexp */
#undef VEC_NAME

static void ATTN_NAME(task)(void *ctx, int task, int thread) {
    (void)thread;
    const attn_job_t *a = ctx;
    int h = task / a->qblocks, q0 = (task % a->qblocks) * QB;
    int nqb = a->nq - q0 < QB ? a->nq - q0 : QB;
    int dh = a->dh;
    float scale = 1.f / sqrtf((float)dh);
    VF sc[QB][NB]; /* one key block's scores, then probabilities, per query */
    VF kT[ATTN_MAX_HEAD_DIM][NB];
    float acc[QB][ATTN_MAX_HEAD_DIM] __attribute__((aligned(64)));
    float m[QB], l[QB], corr[QB];
    int valid[QB];
    float dummy[ATTN_MAX_HEAD_DIM] __attribute__((aligned(64))); /* rows past the end of a block */
    const VF zero = {0};
    memset(dummy, 0, sizeof(float) * (size_t)dh);
    for (int i = 0; i < nqb; i++) {
        m[i] = -INFINITY;
        l[i] = 0.f;
        memset(acc[i], 0, sizeof(float) * (size_t)dh);
    }
    const float *qrow[QB];
    for (int i = 0; i < QB; i++) /* rows past the end repeat the last one (never stored) */
        qrow[i] = a->q + (size_t)(q0 + (i < nqb ? i : nqb - 1)) * a->ldq + (size_t)h * dh;
    int kend = a->causal ? (q0 + nqb < a->nk ? q0 + nqb : a->nk) : a->nk;
    for (int k0 = 0; k0 < kend; k0 += KB) {
        int nkb = kend - k0 < KB ? kend - k0 : KB;
        int nbv = (nkb + ATTN_VW - 1) / ATTN_VW; /* vectors of this block holding keys */
        int nbv2 = (nbv + 1) & ~1;               /* computed two at a time */
        /* K block transposed to [dh][keys], zero-padded to nbv2 vectors */
        for (int j = 0; j < nbv2 * ATTN_VW; j++) {
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
        /* scores: 4 queries x 2 key vectors per pass, each loaded key vector used 4 times */
        for (int i0 = 0; i0 < nqb; i0 += 4) {
            const float *p0 = qrow[i0], *p1 = qrow[i0 + 1], *p2 = qrow[i0 + 2], *p3 = qrow[i0 + 3];
            for (int b = 0; b < nbv2; b += 2) {
                VF c00 = zero, c01 = zero, c10 = zero, c11 = zero;
                VF c20 = zero, c21 = zero, c30 = zero, c31 = zero;
                for (int t = 0; t < dh; t++) {
                    VF k0v = kT[t][b], k1v = kT[t][b + 1];
                    float x0 = p0[t], x1 = p1[t], x2 = p2[t], x3 = p3[t];
                    c00 += x0 * k0v;
                    c01 += x0 * k1v;
                    c10 += x1 * k0v;
                    c11 += x1 * k1v;
                    c20 += x2 * k0v;
                    c21 += x2 * k1v;
                    c30 += x3 * k0v;
                    c31 += x3 * k1v;
                }
                sc[i0][b] = c00 * scale;
                sc[i0][b + 1] = c01 * scale;
                sc[i0 + 1][b] = c10 * scale;
                sc[i0 + 1][b + 1] = c11 * scale;
                sc[i0 + 2][b] = c20 * scale;
                sc[i0 + 2][b + 1] = c21 * scale;
                sc[i0 + 3][b] = c30 * scale;
                sc[i0 + 3][b + 1] = c31 * scale;
            }
        }
        /* online softmax per query: masks, running max, rescale factor, probabilities */
        for (int i = 0; i < nqb; i++) {
            int v = nkb; /* padding keys and, when causal, keys after the query are masked */
            if (a->causal && q0 + i - k0 + 1 < v) v = q0 + i - k0 + 1;
            valid[i] = v > 0 ? v : 0;
            VF *s = sc[i];
            if (v <= 0) { /* nothing to add: keep the accumulator as it is */
                corr[i] = 1.f;
                for (int b = 0; b < nbv2; b++)
                    s[b] = zero;
                continue;
            }
            float *sr = (float *)s;
            for (int j = v; j < nbv2 * ATTN_VW; j++)
                sr[j] = -INFINITY;
            VF mv = s[0];
            for (int b = 1; b < nbv2; b++)
                mv = ATTN_NAME(vmax)(mv, s[b]);
            float mx = mv[0];
            for (int u = 1; u < ATTN_VW; u++)
                mx = mv[u] > mx ? mv[u] : mx;
            if (m[i] > mx) mx = m[i];
            corr[i] = m[i] == -INFINITY ? 0.f : expf(m[i] - mx);
            m[i] = mx;
            VF lsum = zero;
            for (int b = 0; b < nbv2; b++) {
                VF e = ATTN_NAME(vsel)(s[b] > -INFINITY, ATTN_NAME(vexp)(s[b] - mx), zero);
                s[b] = e;
                lsum += e;
            }
            float ls = 0.f;
            for (int u = 0; u < ATTN_VW; u++)
                ls += lsum[u];
            l[i] = l[i] * corr[i] + ls;
        }
        /* output += P V: 4 queries x 2 vectors of the head per pass, each V load used 4 times */
        const float *v0 = a->v + (size_t)k0 * a->ldv + (size_t)h * dh;
        for (int i0 = 0; i0 < nqb; i0 += 4) {
            int ni = nqb - i0 < 4 ? nqb - i0 : 4;
            int jn = 0; /* keys any of the 4 queries uses (the others' probabilities are 0) */
            for (int r = 0; r < ni; r++)
                jn = valid[i0 + r] > jn ? valid[i0 + r] : jn;
            const float *pr[4];
            float *ar[4], cr[4];
            for (int r = 0; r < 4; r++) {
                pr[r] = (const float *)sc[i0 + (r < ni ? r : 0)];
                ar[r] = r < ni ? acc[i0 + r] : dummy; /* a row past the end writes to dummy */
                cr[r] = r < ni ? corr[i0 + r] : 0.f;
            }
            int t = 0;
            for (; t + 2 * ATTN_VW <= dh; t += 2 * ATTN_VW) {
                VF a00, a01, a10, a11, a20, a21, a30, a31;
                memcpy(&a00, ar[0] + t, sizeof a00);
                memcpy(&a01, ar[0] + t + ATTN_VW, sizeof a01);
                memcpy(&a10, ar[1] + t, sizeof a10);
                memcpy(&a11, ar[1] + t + ATTN_VW, sizeof a11);
                memcpy(&a20, ar[2] + t, sizeof a20);
                memcpy(&a21, ar[2] + t + ATTN_VW, sizeof a21);
                memcpy(&a30, ar[3] + t, sizeof a30);
                memcpy(&a31, ar[3] + t + ATTN_VW, sizeof a31);
                a00 *= cr[0];
                a01 *= cr[0];
                a10 *= cr[1];
                a11 *= cr[1];
                a20 *= cr[2];
                a21 *= cr[2];
                a30 *= cr[3];
                a31 *= cr[3];
                for (int j = 0; j < jn; j++) {
                    const float *vj = v0 + (size_t)j * a->ldv + t;
                    VF x = *(const VFU *)vj, y = *(const VFU *)(vj + ATTN_VW);
                    float w0 = pr[0][j], w1 = pr[1][j], w2 = pr[2][j], w3 = pr[3][j];
                    a00 += w0 * x;
                    a01 += w0 * y;
                    a10 += w1 * x;
                    a11 += w1 * y;
                    a20 += w2 * x;
                    a21 += w2 * y;
                    a30 += w3 * x;
                    a31 += w3 * y;
                }
                memcpy(ar[0] + t, &a00, sizeof a00);
                memcpy(ar[0] + t + ATTN_VW, &a01, sizeof a01);
                memcpy(ar[1] + t, &a10, sizeof a10);
                memcpy(ar[1] + t + ATTN_VW, &a11, sizeof a11);
                memcpy(ar[2] + t, &a20, sizeof a20);
                memcpy(ar[2] + t + ATTN_VW, &a21, sizeof a21);
                memcpy(ar[3] + t, &a30, sizeof a30);
                memcpy(ar[3] + t + ATTN_VW, &a31, sizeof a31);
            }
            for (; t + ATTN_VW <= dh; t += ATTN_VW) { /* one vector left (head sizes like 40) */
                VF a0, a1, a2, a3;
                memcpy(&a0, ar[0] + t, sizeof a0);
                memcpy(&a1, ar[1] + t, sizeof a1);
                memcpy(&a2, ar[2] + t, sizeof a2);
                memcpy(&a3, ar[3] + t, sizeof a3);
                a0 *= cr[0];
                a1 *= cr[1];
                a2 *= cr[2];
                a3 *= cr[3];
                for (int j = 0; j < jn; j++) {
                    VF x = *(const VFU *)(v0 + (size_t)j * a->ldv + t);
                    a0 += pr[0][j] * x;
                    a1 += pr[1][j] * x;
                    a2 += pr[2][j] * x;
                    a3 += pr[3][j] * x;
                }
                memcpy(ar[0] + t, &a0, sizeof a0);
                memcpy(ar[1] + t, &a1, sizeof a1);
                memcpy(ar[2] + t, &a2, sizeof a2);
                memcpy(ar[3] + t, &a3, sizeof a3);
            }
            for (; t < dh; t++) /* a head size that is not a multiple of the vector width */
                for (int r = 0; r < 4; r++) {
                    float x = ar[r][t] * cr[r];
                    for (int j = 0; j < jn; j++)
                        x += pr[r][j] * v0[(size_t)j * a->ldv + t];
                    ar[r][t] = x;
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

#if ATTN_VW > 4 /* the blocked path needs AVX2 or AVX-512 */
/* Row-wise softmax of scale * s in place for the blocked path (attention.c), leaving the
 * probabilities unnormalised: inv[r] gets 1 / (row r's sum). */
static void ATTN_NAME(softmax_rows)(float *s, int rows, int n, float scale, float *inv) {
    for (int r = 0; r < rows; r++) {
        float *row = s + (size_t)r * n;
        int j = 0;
        float mx = -INFINITY;
        if (n >= ATTN_VW) {
            VF vm = *(const VFU *)row;
            for (j = ATTN_VW; j + ATTN_VW <= n; j += ATTN_VW)
                vm = ATTN_NAME(vmax)(vm, *(const VFU *)(row + j));
            for (int t = 0; t < ATTN_VW; t++)
                mx = vm[t] > mx ? vm[t] : mx;
        }
        for (; j < n; j++)
            mx = row[j] > mx ? row[j] : mx;
        const VF zero = {0};
        VF vs = zero, off = zero + mx * scale;
        for (j = 0; j + ATTN_VW <= n; j += ATTN_VW) {
            VF e = ATTN_NAME(vexp)(*(const VFU *)(row + j) * scale - off);
            *(VFU *)(row + j) = e;
            vs += e;
        }
        float sum = 0.f;
        for (int t = 0; t < ATTN_VW; t++)
            sum += vs[t];
        for (; j < n; j++) {
            row[j] = expf(row[j] * scale - mx * scale);
            sum += row[j];
        }
        inv[r] = 1.f / sum;
    }
}
#endif

#undef VF
#undef VFU
#undef VI
#undef NB
