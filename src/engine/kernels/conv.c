/* conv.c - convolution through GEMM. */
#include "engine/kernels/conv.h"
#include "common/status.h"
#include <stdlib.h>
#include <string.h>

#define CONV_SCRATCH_FLOATS (1u << 20) /* im2col chunk: 4 MiB */

int conv2d_init(conv2d_t *c, const float *weight, const float *bias, int cout, int cin, int kh,
                int kw, int stride, int pad) {
    memset(c, 0, sizeof *c);
    c->cin = cin;
    c->cout = cout;
    c->kh = kh;
    c->kw = kw;
    c->stride = stride;
    c->pad = pad;
    size_t K = (size_t)kh * kw * cin;
    float *re = malloc(sizeof(float) * K * (size_t)cout);
    if (!re) return IMG_ENOMEM;
    /* [cout][cin][kh][kw] -> [cout][kh][kw][cin], matching the im2col row order */
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++)
            for (int y = 0; y < kh; y++)
                for (int x = 0; x < kw; x++)
                    re[(size_t)o * K + ((size_t)y * kw + x) * cin + i] =
                        weight[(((size_t)o * cin + i) * kh + y) * kw + x];
    int rc = gemm_pack(re, cout, (int)K, &c->w);
    free(re);
    if (rc) return rc;
    if (bias) {
        c->bias = malloc(sizeof(float) * (size_t)cout);
        if (!c->bias) {
            gemm_w_free(&c->w);
            return IMG_ENOMEM;
        }
        memcpy(c->bias, bias, sizeof(float) * (size_t)cout);
    }
    return IMG_OK;
}

void conv2d_free(conv2d_t *c) {
    gemm_w_free(&c->w);
    free(c->bias);
    c->bias = NULL;
}

void conv2d_out_size(const conv2d_t *c, int h, int w, int *ho, int *wo) {
    *ho = (h + 2 * c->pad - c->kh) / c->stride + 1;
    *wo = (w + 2 * c->pad - c->kw) / c->stride + 1;
}

static int is_pointwise(const conv2d_t *c) {
    return c->kh == 1 && c->kw == 1 && c->stride == 1 && c->pad == 0;
}

size_t conv2d_scratch(const conv2d_t *c, int h, int w) {
    if (is_pointwise(c)) return 0;
    int ho, wo;
    conv2d_out_size(c, h, w, &ho, &wo);
    size_t row = (size_t)wo * c->kh * c->kw * c->cin;
    size_t rows = CONV_SCRATCH_FLOATS / (row ? row : 1);
    if (rows < 1) rows = 1;
    if (rows > (size_t)ho) rows = (size_t)ho;
    return rows * row;
}

void conv2d_forward(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w, float *y,
                    int accumulate, float *scratch) {
    int ho, wo;
    conv2d_out_size(c, h, w, &ho, &wo);
    if (is_pointwise(c)) {
        gemm(kc, h * w, x, c->cin, &c->w, c->bias, y, c->cout, accumulate);
        return;
    }
    size_t K = (size_t)c->kh * c->kw * c->cin;
    size_t per_row = (size_t)wo * K;
    int chunk = (int)(conv2d_scratch(c, h, w) / per_row);
    for (int oy0 = 0; oy0 < ho; oy0 += chunk) {
        int rows = ho - oy0 < chunk ? ho - oy0 : chunk;
        for (int r = 0; r < rows; r++) {
            int oy = oy0 + r;
            for (int ox = 0; ox < wo; ox++) {
                float *dst = scratch + ((size_t)r * wo + ox) * K;
                for (int ky = 0; ky < c->kh; ky++) {
                    int iy = oy * c->stride - c->pad + ky;
                    for (int kx = 0; kx < c->kw; kx++) {
                        int ix = ox * c->stride - c->pad + kx;
                        float *d = dst + ((size_t)ky * c->kw + kx) * c->cin;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                            memset(d, 0, sizeof(float) * (size_t)c->cin);
                        else
                            memcpy(d, x + ((size_t)iy * w + ix) * c->cin, sizeof(float) * (size_t)c->cin);
                    }
                }
            }
        }
        gemm(kc, rows * wo, scratch, (int)K, &c->w, c->bias, y + (size_t)oy0 * wo * c->cout, c->cout,
             accumulate);
    }
}
