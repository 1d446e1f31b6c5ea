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
/* A group norm as the per-channel affine it applies (y = (x - centre) * a + b, then SiLU when
 * silu), its statistics taken over the whole image x, so that it can be applied to any part of
 * the image later (mt_affine_apply; conv_rows normalises a strip at a time). mt_groupnorm is the
 * two in one call, with the same arithmetic. IMG_EINVAL past MT_MAX_GROUPS or MT_MAX_CHANNELS. */
typedef struct {
    int c, silu;
    float centre[MT_MAX_CHANNELS], a[MT_MAX_CHANNELS], b[MT_MAX_CHANNELS];
} gn_affine_t;
int mt_groupnorm_affine(const kctx_t *kc, const float *x, int hw, int c, int groups,
                        const float *gamma, const float *beta, float eps, int silu,
                        gn_affine_t *out);
/* y = the affine of nrm over hw pixels of nrm->c channels (y may be x). */
void mt_affine_apply(const kctx_t *kc, const gn_affine_t *nrm, const float *x, int hw, float *y);
/* op_layernorm over row ranges; GEGLU over row ranges with a vectorised erf (|error| <= 1.5e-7,
 * see ops_mt_body.h) instead of erff per value. */
void mt_layernorm(const kctx_t *kc, const float *x, int rows, int c, const float *gamma,
                  const float *beta, float eps, float *y);
void mt_geglu(const kctx_t *kc, const float *x, int rows, int d, float *y);

#endif
