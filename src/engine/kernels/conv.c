/* conv.c - convolution as a GEMM whose A (the im2col matrix) is gathered block by block. */
#include "engine/kernels/conv.h"
#include "common/status.h"
#include "engine/kernels/winograd.h"
#include <stdlib.h>
#include <string.h>

/* Copies the bias (if any) after the weights were packed; on failure frees them. */
static int take_bias(conv2d_t *c, const float *bias) {
    if (!bias) return IMG_OK;
    c->bias = malloc(sizeof(float) * (size_t)c->cout); /* owned by c */
    if (!c->bias) {
        gemm_w_free(&c->w);
        return IMG_ENOMEM;
    }
    memcpy(c->bias, bias, sizeof(float) * (size_t)c->cout);
    return IMG_OK;
}

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
    return rc ? rc : take_bias(c, bias);
}

int conv2d_init_16bit(conv2d_t *c, const void *weight, int bf16, int q8, const float *bias,
                      int cout, int cin, int kh, int kw, int stride, int pad) {
    *c = (conv2d_t){.cin = cin, .cout = cout, .kh = kh, .kw = kw, .stride = stride, .pad = pad};
    /* [cout][cin][kh][kw] read as [cout][kh][kw][cin]: channel stride kh*kw, tap stride 1 */
    int rc = (q8 ? gemm_pack_q8_16bit : gemm_pack_16bit)(&weight, &cout, 1, kh * kw * cin, cin,
                                                         (size_t)kh * kw, 1, bf16, &c->w);
    return rc ? rc : take_bias(c, bias);
}

int conv2d_init_q8(conv2d_t *c, const float *weight, const float *bias, int cout, int cin, int kh,
                   int kw, int stride, int pad) {
    *c = (conv2d_t){.cin = cin, .cout = cout, .kh = kh, .kw = kw, .stride = stride, .pad = pad};
    /* read tap-major as conv2d_init_16bit does */
    int rc = gemm_pack_q8(weight, cout, kh * kw * cin, cin, (size_t)kh * kw, 1, &c->w);
    return rc ? rc : take_bias(c, bias);
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

typedef struct {
    const conv2d_t *c;
    const float *x;
    int h, w, wo; /* h, w: the image the taps see */
    int up;       /* 1: that image is x upsampled 2x (nearest), x itself being h/2 x w/2 */
    int vh, vw;   /* the part of that image x covers (the rest is zero padding) */
    int xw;       /* x's row length in pixels */
} conv_src_t;

/* The im2col rows [row0, row0 + rows) x [k0, k0 + kc) gathered from the image: row r is output
 * pixel (r / wo, r % wo); column kk is tap kk / cin, channel kk % cin, so each (row, tap) is one
 * run of channels, copied or (outside the image) zeroed. The taps of one kernel row that lie
 * inside the image are neighbouring pixels, so (unless the image is an upsampling) they are one
 * run of kw * cin floats: one copy instead of kw (the RGB input layer's 3-channel taps were
 * 27 calls of 12 bytes per row). */
static void pack_im2col(const void *ctx, int row0, int rows, int k0, int kc, float *dst) {
    const conv_src_t *s = ctx;
    const conv2d_t *c = s->c;
    for (int i = 0; i < rows; i++) {
        int oy = (row0 + i) / s->wo, ox = (row0 + i) % s->wo;
        float *d = dst + (size_t)i * kc;
        for (int kk = k0; kk < k0 + kc;) {
            int tap = kk / c->cin, ci = kk % c->cin, kx = tap % c->kw;
            int iy = oy * c->stride - c->pad + tap / c->kw;
            int ix = ox * c->stride - c->pad + kx;
            int inside = iy >= 0 && iy < s->vh && ix >= 0 && ix < s->vw;
            int len = c->cin - ci;
            for (int k2 = kx + 1; inside && !s->up && k2 < c->kw && ix + (k2 - kx) < s->vw; k2++)
                len += c->cin;
            if (len > k0 + kc - kk) len = k0 + kc - kk;
            float *o = d + (kk - k0);
            if (!inside) {
                memset(o, 0, sizeof(float) * (size_t)len);
            } else {
                const float *src =
                    s->x + ((size_t)(iy >> s->up) * s->xw + (ix >> s->up)) * c->cin + ci;
                if (len <= 16)
                    for (int q = 0; q < len; q++)
                        o[q] = src[q];
                else
                    memcpy(o, src, sizeof(float) * (size_t)len);
            }
            kk += len;
        }
    }
}

void conv2d_forward(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w, float *y,
                    int accumulate) {
    int ho, wo;
    conv2d_out_size(c, h, w, &ho, &wo);
    if (is_pointwise(c)) {
        gemm(kc, h * w, x, c->cin, &c->w, c->bias, y, c->cout, accumulate);
        return;
    }
    if (conv_winograd_eligible(c, h, w) && conv_winograd(kc, c, x, h, w, 0, y, accumulate) == IMG_OK) return;
    conv_src_t src = {c, x, h, w, wo, 0, h, w, w};
    gemm_ex(kc, ho * wo, pack_im2col, &src, &c->w, c->bias, y, c->cout, accumulate);
}

void conv2d_forward_pad_br(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w,
                           float *y) {
    int ho, wo;
    conv2d_out_size(c, h + 1, w + 1, &ho, &wo);
    conv_src_t src = {c, x, h + 1, w + 1, wo, 0, h, w, w}; /* row h and column w read as zeros */
    gemm_ex(kc, ho * wo, pack_im2col, &src, &c->w, c->bias, y, c->cout, 0);
}

void conv2d_forward_up2(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w, float *y) {
    int ho, wo;
    conv2d_out_size(c, 2 * h, 2 * w, &ho, &wo);
    if (conv_winograd_eligible(c, 2 * h, 2 * w) && conv_winograd(kc, c, x, 2 * h, 2 * w, 1, y, 0) == IMG_OK)
        return;
    conv_src_t src = {c, x, 2 * h, 2 * w, wo, 1, 2 * h, 2 * w, w};
    gemm_ex(kc, ho * wo, pack_im2col, &src, &c->w, c->bias, y, c->cout, 0);
}
