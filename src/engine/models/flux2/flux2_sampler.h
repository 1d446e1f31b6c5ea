/* flux2_sampler.h - FLUX.2's sampling (Black Forest Labs' flux2 `sampling.py`): rectified-flow
 * times shifted by the image's token count, and Euler steps over the transformer's velocity,
 * with reference images' tokens appended to the sequence for editing. */
#ifndef IMGAPI_ENGINE_MODELS_FLUX2_SAMPLER_H
#define IMGAPI_ENGINE_MODELS_FLUX2_SAMPLER_H
#include "engine/kernels/kctx.h"
#include "engine/models/flux2/flux2_transformer.h"

/* The steps + 1 times from 1 to 0 for an image of seq_len tokens: t' = e^mu / (e^mu + 1/t - 1),
 * mu interpolated from the empirical line at 10 and 200 steps for seq_len up to 4300, the
 * 200-step line beyond (get_schedule, compute_empirical_mu). */
void flux2_schedule(int steps, int seq_len, float *times);

/* Denoises x [nx, C] (noise at times[0]) in place over the steps: x += (t_next - t) * v, v the
 * transformer's prediction for x followed by the nref reference tokens ref [nref, C] (ids
 * ref_ids, NULL when none), cut back to x's tokens. IMG_ENOMEM. */
int flux2_denoise(const flux2_dit_t *m, const kctx_t *kc, float *x, const float *x_ids, int nx,
                  const float *ref, const float *ref_ids, int nref, const float *ctx,
                  const float *ctx_ids, int nt, const float *times, int steps, float guidance);

#endif
