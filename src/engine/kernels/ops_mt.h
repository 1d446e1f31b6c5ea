/* ops_mt.h - the non-GEMM operators that touch whole activations (group norm with its fused
 * SiLU, layer norm, GEGLU), split over the pool's threads. With one thread they would hold the
 * other core idle between two GEMMs; at 512x512 the VAE decoder's group norms alone took a
 * sixth of its time that way. Results match the serial operators of ops.h within f32 rounding
 * (statistics still accumulate in double). */
#ifndef IMGAPI_ENGINE_KERNELS_OPS_MT_H
#define IMGAPI_ENGINE_KERNELS_OPS_MT_H
#include "engine/kernels/kctx.h"

/* GroupNorm over one image [hw, c], fused SiLU when silu != 0 (as op_groupnorm). Falls back to
 * op_groupnorm for more than MT_MAX_GROUPS groups or MT_MAX_CHANNELS channels. */
#define MT_MAX_GROUPS 64
#define MT_MAX_CHANNELS 4096
void mt_groupnorm(const kctx_t *kc, const float *x, int hw, int c, int groups, const float *gamma,
                  const float *beta, float eps, int silu, float *y);
/* op_layernorm over row ranges; GEGLU over row ranges with a vectorised erf (|error| <= 1.5e-7,
 * see ops_mt_body.h) instead of erff per value. */
void mt_layernorm(const kctx_t *kc, const float *x, int rows, int c, const float *gamma,
                  const float *beta, float eps, float *y);
void mt_geglu(const kctx_t *kc, const float *x, int rows, int d, float *y);

#endif
