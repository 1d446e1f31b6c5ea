/* winograd.h - 3x3, stride-1, pad-1 convolutions as Winograd F(2x2, 3x3) (16 multiplications
 * per 2x2 output tile and channel pair instead of 36: 2.25x fewer multiply-adds) or, in f32 on
 * images of 64x64 and more, F(4x4, 3x3) (36 per 4x4 tile instead of 144: 4x fewer), for the price
 * of input/output transforms (additions, memory-bound) and a per-call weight transform. Used by
 * conv2d_forward where it pays: layers of 64+ channels on images larger than 16x16. F(2x2)
 * differs from the direct convolution by f32 rounding only (coefficients 0, +-1, +-1/2); F(4x4)'s
 * coefficients (up to 8, and 1/6, 1/24) make its error a few times larger (the VAE decoder's image
 * 8e-6 of its range against 3e-6, the golden tolerance being 1e-4). */
#ifndef IMGAPI_ENGINE_KERNELS_WINOGRAD_H
#define IMGAPI_ENGINE_KERNELS_WINOGRAD_H
#include "engine/kernels/conv.h"

/* Whether c on an h x w image goes through conv_winograd. */
int conv_winograd_eligible(const conv2d_t *c, int h, int w);
/* y (h x w x cout) (+)= conv(x) where the convolved image is x (up 0) or its 2x nearest
 * upsampling (up 1, x being h/2 x w/2). IMG_ENOMEM (nothing written) when its buffers cannot be
 * had: the caller falls back to the direct path. */
int conv_winograd(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w, int up,
                  float *y, int accumulate);

#endif
