/* gguf_quant.c - encoding floats as GGUF's Q8_0 and Q4_K blocks (gguf_quant.h). The block
 * layouts are ggml-common.h's (read for the format only); the Q4_K search is this file's own. */
#include "engine/io/gguf_quant.h"
#include "engine/tensor/dtype.h"
#include <math.h>
#include <string.h>

static void put_half(uint8_t *p, uint16_t h) {
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

void gguf_quant_q8_0(const float *x, size_t n, uint8_t *out) {
    for (size_t k = 0; k < n; k += 32) { /* d = max|x| / 127 */
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fabsf(x[k + j]) > amax ? fabsf(x[k + j]) : amax;
        float d = amax / 127, id = d > 0 ? 1 / d : 0;
        uint8_t *blk = out + k / 32 * GGUF_Q8_0_BYTES;
        put_half(blk, f32_to_f16(d));
        for (int j = 0; j < 32; j++)
            blk[2 + j] = (uint8_t)(int8_t)lroundf(x[k + j] * id);
    }
}

/* For 32 values: the scale s > 0 and offset m >= 0 of x ~ s * q - m, q in 0..15, that leave the
 * least squared error. Candidates: the range split in 15 steps, and steps a little narrower or
 * wider (outliers cost less when clipped), each refitted by least squares on its own q. */
static void fit_sub_block(const float *x, float *s_out, float *m_out) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < 32; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    if (lo > 0) lo = 0; /* m >= 0: the offset only ever lowers values */
    if (hi <= lo) {
        *s_out = 0;
        *m_out = -lo;
        return;
    }
    float best_s = (hi - lo) / 15, best_m = -lo, best_e = INFINITY;
    for (int step = -6; step <= 6; step++) {
        float iscale = (15 + 0.1f * (float)step) / (hi - lo);
        int q[32];
        float sq = 0, sqq = 0, sx = 0, sxq = 0;
        for (int i = 0; i < 32; i++) {
            long v = lroundf((x[i] - lo) * iscale);
            q[i] = v < 0 ? 0 : v > 15 ? 15 : (int)v;
            sq += (float)q[i];
            sqq += (float)(q[i] * q[i]);
            sx += x[i];
            sxq += x[i] * (float)q[i];
        }
        /* least squares of x = s q - m over the 32 values */
        float det = 32 * sqq - sq * sq;
        if (det <= 0) continue;
        float s = (32 * sxq - sq * sx) / det, m = (sq * sxq - sqq * sx) / det;
        if (s <= 0) continue;
        if (m < 0) { /* the offset must stay >= 0: the best s with m = 0 */
            m = 0;
            s = sxq / sqq;
        }
        float e = 0;
        for (int i = 0; i < 32; i++) {
            float r = s * (float)q[i] - m - x[i];
            e += r * r;
        }
        if (e < best_e) best_e = e, best_s = s, best_m = m;
    }
    *s_out = best_s;
    *m_out = best_m;
}

void gguf_quant_q4_k(const float *x, size_t n, uint8_t *out) {
    for (size_t b = 0; b < n / 256; b++) {
        const float *xb = x + 256 * b;
        uint8_t *blk = out + b * GGUF_Q4_K_BYTES;
        float s[8], m[8], smax = 0, mmax = 0;
        for (int j = 0; j < 8; j++) {
            fit_sub_block(xb + 32 * j, &s[j], &m[j]);
            smax = s[j] > smax ? s[j] : smax;
            mmax = m[j] > mmax ? m[j] : mmax;
        }
        /* the 8 scales and offsets as 6-bit multiples of two halves */
        uint16_t dh = f32_to_f16(smax / 63), mh = f32_to_f16(mmax / 63);
        float d = f16_to_f32(dh), dmin = f16_to_f32(mh);
        int sc[8], mn[8];
        for (int j = 0; j < 8; j++) {
            long a = d > 0 ? lroundf(s[j] / d) : 0, c = dmin > 0 ? lroundf(m[j] / dmin) : 0;
            sc[j] = a < 0 ? 0 : a > 63 ? 63 : (int)a;
            mn[j] = c < 0 ? 0 : c > 63 ? 63 : (int)c;
        }
        put_half(blk, dh);
        put_half(blk + 2, mh);
        uint8_t *q = blk + 4; /* 12 bytes: j < 4 whole in q[j], q[j + 4]; j >= 4 split */
        for (int j = 0; j < 4; j++) {
            q[j] = (uint8_t)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
            q[j + 4] = (uint8_t)((mn[j] & 63) | (mn[j + 4] >> 4) << 6);
            q[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
        }
        /* the 4-bit values against the stored scales: 64 values per 32 bytes, low nibbles first */
        uint8_t v[256];
        for (int j = 0; j < 8; j++) {
            float ds = d * (float)sc[j], dm = dmin * (float)mn[j];
            for (int i = 0; i < 32; i++) {
                long t = ds > 0 ? lroundf((xb[32 * j + i] + dm) / ds) : 0;
                v[32 * j + i] = (uint8_t)(t < 0 ? 0 : t > 15 ? 15 : t);
            }
        }
        uint8_t *qs = blk + 16;
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < 32; i++)
                qs[32 * j + i] = (uint8_t)(v[64 * j + i] | v[64 * j + 32 + i] << 4);
    }
}
