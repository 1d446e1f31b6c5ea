/* ops.c - reference-exact element-wise, normalisation and layout operators. Sums of squares
 * and means accumulate in double so that long rows keep f32 parity. */
#include "engine/kernels/ops.h"
#include <math.h>
#include <string.h>

void op_layernorm(const float *x, int rows, int c, const float *gamma, const float *beta, float eps,
                  float *y) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * c;
        float *yr = y + (size_t)r * c;
        double mean = 0, var = 0;
        for (int i = 0; i < c; i++) mean += xr[i];
        mean /= c;
        for (int i = 0; i < c; i++) var += (xr[i] - mean) * (xr[i] - mean);
        var /= c;
        float inv = (float)(1.0 / sqrt(var + eps));
        for (int i = 0; i < c; i++)
            yr[i] = (float)(xr[i] - mean) * inv * (gamma ? gamma[i] : 1.f) + (beta ? beta[i] : 0.f);
    }
}

static inline float silu1(float v) { return v / (1.f + expf(-v)); }

void op_groupnorm(const float *x, int hw, int c, int groups, const float *gamma, const float *beta,
                  float eps, int silu, float *y) {
    int cg = c / groups;
    double sum[256], sq[256];
    double *s = sum, *q = sq;
    if (groups > 256) return; /* callers validate; SD uses 32 */
    for (int g = 0; g < groups; g++) s[g] = q[g] = 0;
    for (int p = 0; p < hw; p++) {
        const float *xp = x + (size_t)p * c;
        for (int g = 0; g < groups; g++) {
            double a = 0;
            for (int i = 0; i < cg; i++) a += xp[g * cg + i];
            s[g] += a;
        }
    }
    double n = (double)hw * cg;
    for (int g = 0; g < groups; g++) s[g] /= n;
    for (int p = 0; p < hw; p++) {
        const float *xp = x + (size_t)p * c;
        for (int g = 0; g < groups; g++) {
            double a = 0, m = s[g];
            for (int i = 0; i < cg; i++) a += (xp[g * cg + i] - m) * (xp[g * cg + i] - m);
            q[g] += a;
        }
    }
    float mean[256], inv[256];
    for (int g = 0; g < groups; g++) {
        mean[g] = (float)s[g];
        inv[g] = (float)(1.0 / sqrt(q[g] / n + eps));
    }
    for (int p = 0; p < hw; p++) {
        const float *xp = x + (size_t)p * c;
        float *yp = y + (size_t)p * c;
        for (int ch = 0; ch < c; ch++) {
            int g = ch / cg;
            float v = (xp[ch] - mean[g]) * inv[g] * gamma[ch] + beta[ch];
            yp[ch] = silu ? silu1(v) : v;
        }
    }
}

void op_silu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = silu1(x[i]);
}

void op_gelu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.f + erff(x[i] * 0.70710678118654752f));
}

void op_quick_gelu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.f + expf(-1.702f * x[i]));
}

void op_softmax_rows(float *x, int rows, int n) {
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * n;
        float m = -INFINITY;
        for (int i = 0; i < n; i++) m = xr[i] > m ? xr[i] : m;
        double s = 0;
        for (int i = 0; i < n; i++) {
            xr[i] = expf(xr[i] - m);
            s += xr[i];
        }
        float inv = (float)(1.0 / s);
        for (int i = 0; i < n; i++) xr[i] *= inv;
    }
}

void op_add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void op_mul(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] *= x[i];
}

void op_scale(float *y, float s, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] *= s;
}

void op_geglu(const float *x, int rows, int d, float *y) {
    for (int r = 0; r < rows; r++) {
        const float *v = x + (size_t)r * 2 * d, *g = v + d;
        float *yr = y + (size_t)r * d;
        for (int i = 0; i < d; i++) yr[i] = v[i] * 0.5f * g[i] * (1.f + erff(g[i] * 0.70710678118654752f));
    }
}

void op_upsample_nearest2x(const float *x, int h, int w, int c, float *y) {
    for (int yy = 0; yy < 2 * h; yy++)
        for (int xx = 0; xx < 2 * w; xx++)
            memcpy(y + ((size_t)yy * 2 * w + xx) * c, x + ((size_t)(yy / 2) * w + xx / 2) * c,
                   sizeof(float) * (size_t)c);
}

void op_concat_channels(const float *a, int ca, const float *b, int cb, int hw, float *y) {
    for (int p = 0; p < hw; p++) {
        memcpy(y + (size_t)p * (ca + cb), a + (size_t)p * ca, sizeof(float) * (size_t)ca);
        memcpy(y + (size_t)p * (ca + cb) + ca, b + (size_t)p * cb, sizeof(float) * (size_t)cb);
    }
}

void op_timestep_embedding(const float *t, int n, int dim, float max_period, float *out) {
    int half = dim / 2;
    for (int r = 0; r < n; r++) {
        for (int i = 0; i < half; i++) {
            float f = expf(-logf(max_period) * (float)i / (float)half);
            float a = t[r] * f;
            out[(size_t)r * dim + i] = cosf(a);
            out[(size_t)r * dim + half + i] = sinf(a);
        }
        if (dim % 2) out[(size_t)r * dim + dim - 1] = 0.f;
    }
}

void op_nchw_to_nhwc(const float *x, int c, int h, int w, float *y) {
    for (int ch = 0; ch < c; ch++)
        for (int p = 0; p < h * w; p++) y[(size_t)p * c + ch] = x[(size_t)ch * h * w + p];
}

void op_nhwc_to_nchw(const float *x, int h, int w, int c, float *y) {
    for (int ch = 0; ch < c; ch++)
        for (int p = 0; p < h * w; p++) y[(size_t)ch * h * w + p] = x[(size_t)p * c + ch];
}
