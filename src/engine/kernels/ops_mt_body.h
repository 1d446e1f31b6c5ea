/* ops_mt_body.h - the vector loops of ops_mt.c, instantiated per vector width: ops_mt.c defines
 * MT_VW (lanes) and MT_NAME(x) and includes this file inside a `#pragma GCC target` region. */

typedef float MT_NAME(vf) __attribute__((vector_size(MT_VW * 4)));
typedef float MT_NAME(vfu) __attribute__((vector_size(MT_VW * 4), aligned(4)));
typedef int MT_NAME(vi) __attribute__((vector_size(MT_VW * 4)));
#define VF MT_NAME(vf)
#define VFU MT_NAME(vfu)
#define VI MT_NAME(vi)

#define VEC_NAME(x) MT_NAME(x)
#include "engine/kernels/vec_body.h" /* vsel, vmax, vexp */
#undef VEC_NAME

/* v * sigmoid(v), through e = e^-|v| so that nothing overflows. */
static inline __attribute__((always_inline)) VF MT_NAME(vsilu)(VF v) {
    const VF zero = {0}, one = zero + 1.f;
    VI neg = v < zero;
    VF e = MT_NAME(vexp)(zero - MT_NAME(vsel)(neg, zero - v, v));
    VF num = MT_NAME(vsel)(neg, e, one); /* v < 0: e / (1 + e), else 1 / (1 + e) */
    return v * num / (one + e);
}

/* y[p, :] = (x[p, :] - m) * a + b (per channel), then SiLU when silu, for pixels [p0, p1). */
static void MT_NAME(affine)(const float *x, float *y, int p0, int p1, int c, const float *m,
                            const float *a, const float *b, int silu) {
    for (int p = p0; p < p1; p++) {
        const float *xp = x + (size_t)p * c;
        float *yp = y + (size_t)p * c;
        int ch = 0;
        for (; ch + MT_VW <= c; ch += MT_VW) {
            VF v = (*(const VFU *)(xp + ch) - *(const VFU *)(m + ch)) * *(const VFU *)(a + ch) +
                   *(const VFU *)(b + ch);
            *(VFU *)(yp + ch) = silu ? MT_NAME(vsilu)(v) : v;
        }
        for (; ch < c; ch++) {
            float v = (xp[ch] - m[ch]) * a[ch] + b[ch];
            yp[ch] = silu ? v / (1.f + expf(-v)) : v;
        }
    }
}

/* Per-channel sums over pixels [p0, p1) of x - centre (centre NULL: of x), or of its square
 * when square; blocks of 32 pixels add in f32, the blocks in double into acc[c]. */
static void MT_NAME(channel_sums)(const float *x, int p0, int p1, int c, const float *centre,
                                  int square, double *acc) {
    float part[MT_MAX_CHANNELS] __attribute__((aligned(64)));
    for (int q0 = p0; q0 < p1; q0 += 32) {
        int q1 = q0 + 32 < p1 ? q0 + 32 : p1;
        memset(part, 0, sizeof(float) * (size_t)c);
        for (int p = q0; p < q1; p++) {
            const float *xp = x + (size_t)p * c;
            int ch = 0;
            for (; ch + MT_VW <= c; ch += MT_VW) {
                VF v = *(const VFU *)(xp + ch);
                if (centre) v -= *(const VFU *)(centre + ch);
                *(VFU *)(part + ch) += square ? v * v : v;
            }
            for (; ch < c; ch++) {
                float v = xp[ch] - (centre ? centre[ch] : 0.f);
                part[ch] += square ? v * v : v;
            }
        }
        for (int ch = 0; ch < c; ch++)
            acc[ch] += part[ch];
    }
}

/* erf for x >= 0: Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7 (relative error of the GELU
 * built on it about the same, since GELU multiplies 1 + erf by x/2). */
static inline __attribute__((always_inline)) VF MT_NAME(verf_pos)(VF x) {
    const VF zero = {0};
    VF t = (zero + 1.f) / (x * 0.3275911f + 1.f);
    VF p = zero + 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    return 1.f - p * t * MT_NAME(vexp)(zero - x * x);
}

/* y[r, i] = x[r, i] * gelu(x[r, d + i]) (exact GELU through erf) for rows [r0, r1). */
static void MT_NAME(geglu_rows)(const float *x, int r0, int r1, int d, float *y) {
    const VF zero = {0};
    for (int r = r0; r < r1; r++) {
        const float *v = x + (size_t)r * 2 * d, *g = v + d;
        float *yr = y + (size_t)r * d;
        int i = 0;
        for (; i + MT_VW <= d; i += MT_VW) {
            VF gv = *(const VFU *)(g + i), a = gv * 0.70710678118654752f;
            VI neg = a < zero;
            VF e = MT_NAME(verf_pos)(MT_NAME(vsel)(neg, zero - a, a));
            e = MT_NAME(vsel)(neg, zero - e, e); /* erf is odd */
            *(VFU *)(yr + i) = *(const VFU *)(v + i) * 0.5f * gv * (1.f + e);
        }
        for (; i < d; i++)
            yr[i] = v[i] * 0.5f * g[i] * (1.f + erff(g[i] * 0.70710678118654752f));
    }
}

#undef VF
#undef VFU
#undef VI
