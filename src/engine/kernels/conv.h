/* conv.h - 2-D convolution on channels-last images as a packed GEMM over the im2col matrix,
 * which is never stored: the GEMM's A-packing gathers each block of its rows from the image on
 * the task's thread (gemm_ex). 1x1 stride-1 convolutions are a plain GEMM. */
#ifndef IMGAPI_ENGINE_KERNELS_CONV_H
#define IMGAPI_ENGINE_KERNELS_CONV_H
#include "engine/kernels/gemm.h"

typedef struct {
    int cin, cout, kh, kw, stride, pad;
    gemm_w_t w;  /* [cout, kh*kw*cin] packed */
    float *bias; /* [cout], owned, may be NULL */
} conv2d_t;

/* weight: [cout, cin, kh, kw] (PyTorch layout), bias [cout] or NULL. Copies both. */
int conv2d_init(conv2d_t *c, const float *weight, const float *bias, int cout, int cin, int kh,
                int kw, int stride, int pad);
/* The same from a 16-bit weight (IEEE halves, or bfloat16 when bf16; any alignment), packed
 * without widening (gemm_pack_16bit), or as 8-bit panels with q8 (gemm_pack_q8_16bit). */
int conv2d_init_16bit(conv2d_t *c, const void *weight, int bf16, int q8, const float *bias,
                      int cout, int cin, int kh, int kw, int stride, int pad);
/* The same from an f32 weight [cout][cin][kh][kw] held as 8-bit panels (gemm_pack_q8). */
int conv2d_init_q8(conv2d_t *c, const float *weight, const float *bias, int cout, int cin, int kh,
                   int kw, int stride, int pad);
void conv2d_free(conv2d_t *c);
void conv2d_out_size(const conv2d_t *c, int h, int w, int *ho, int *wo);
/* x: [h*w, cin] -> y: [ho*wo, cout]. accumulate adds into y. */
void conv2d_forward(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w, float *y,
                    int accumulate);
/* The convolution of x's nearest-neighbour 2x upsampling (what an upsampling block does), read
 * from x: [h*w, cin] -> y: [ho*wo, cout] for the 2h x 2w image; the upsampled image is never
 * stored. */
void conv2d_forward_up2(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w, float *y);
/* y = conv(x with one zero row below and one zero column to the right) for x h x w: the KL
 * encoder's stride-2 downsampling (its (0,1,0,1) padding) without a padded copy of x. */
void conv2d_forward_pad_br(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w,
                           float *y);

#endif
