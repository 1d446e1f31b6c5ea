/* ops.h - the non-GEMM operators of the SD family, on row-major [rows, channels] data
 * (channels last: an image is [h*w, c]). All f32, in place where the name says so. */
#ifndef IMGAPI_ENGINE_KERNELS_OPS_H
#define IMGAPI_ENGINE_KERNELS_OPS_H
#include <stddef.h>

void op_layernorm(const float *x, int rows, int c, const float *gamma, const float *beta, float eps,
                  float *y);
/* GroupNorm over one image [hw, c] with `groups` groups; fused SiLU when silu != 0. */
void op_groupnorm(const float *x, int hw, int c, int groups, const float *gamma, const float *beta,
                  float eps, int silu, float *y);
void op_silu(float *x, size_t n);
void op_gelu(float *x, size_t n);       /* exact: 0.5 x (1 + erf(x / sqrt 2)) */
void op_quick_gelu(float *x, size_t n); /* x * sigmoid(1.702 x) */
void op_softmax_rows(float *x, int rows, int n);
void op_add(float *y, const float *x, size_t n); /* y += x */
void op_mul(float *y, const float *x, size_t n); /* y *= x */
void op_scale(float *y, float s, size_t n);      /* y *= s */
/* y[rows, d] = x[:, :d] * gelu(x[:, d:2d]) (GEGLU). */
void op_geglu(const float *x, int rows, int d, float *y);
/* [h, w, c] -> [2h, 2w, c], nearest neighbour. */
void op_upsample_nearest2x(const float *x, int h, int w, int c, float *y);
/* y[hw, ca+cb] = concat(a[hw, ca], b[hw, cb]) along channels. */
void op_concat_channels(const float *a, int ca, const float *b, int cb, int hw, float *y);
/* Sinusoidal embedding [n, dim] of timesteps t: [cos(t f_i), sin(t f_i)], cos first,
 * f_i = exp(-ln(max_period) i / (dim/2)). */
void op_timestep_embedding(const float *t, int n, int dim, float max_period, float *out);
/* NCHW <-> NHWC for one image. */
void op_nchw_to_nhwc(const float *x, int c, int h, int w, float *y);
void op_nhwc_to_nchw(const float *x, int h, int w, int c, float *y);

#endif
