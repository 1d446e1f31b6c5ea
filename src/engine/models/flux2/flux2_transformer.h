/* flux2_transformer.h - FLUX.2's rectified-flow transformer (Black Forest Labs' flux2
 * `model.py`: Flux2): latent tokens and text tokens in double-stream blocks (each stream its own
 * weights, one joint attention), then single-stream blocks over the joined sequence, RoPE over
 * four position axes (t, h, w, l), adaLN modulation from the timestep (and guidance, where the
 * checkpoint has guidance_in) shared by all blocks of a kind, QK RMSNorm, SiLU-gated MLPs.
 *
 * Its structure comes from the tensors (hidden size, heads from the QK norms' width, blocks,
 * MLP width, latent and context widths); RoPE's axes are the head width in four equal parts with
 * theta 2000, as Flux2Params defines them. Names as BFL's checkpoints write them, bare or under
 * "model.diffusion_model.". */
#ifndef IMGAPI_ENGINE_MODELS_FLUX2_TRANSFORMER_H
#define IMGAPI_ENGINE_MODELS_FLUX2_TRANSFORMER_H
#include "engine/io/safetensors.h"
#include "engine/kernels/kctx.h"
#include <stddef.h>

typedef struct flux2_dit flux2_dit_t;

typedef struct {
    int in_channels, context_dim, hidden, heads, head_dim, depth, depth_single, mlp_hidden;
    int has_guidance;
} flux2_dit_info_t;

/* wflags as unet_load's (weights.h). Owned by *out (flux2_dit_free); f may be closed after. */
int flux2_dit_load(const st_file_t *f, int wflags, flux2_dit_t **out, char *err, size_t errlen);
void flux2_dit_free(flux2_dit_t *m);
const flux2_dit_info_t *flux2_dit_info(const flux2_dit_t *m);

/* One prediction: x [nx, in_channels] latent tokens with x_ids [nx, 4] positions, ctx [nt,
 * context_dim] with ctx_ids [nt, 4], the timestep (the reference's t, multiplied by 1000 inside)
 * and guidance (ignored without guidance_in) -> out [nx, in_channels]. IMG_ENOMEM. */
int flux2_dit_forward(const flux2_dit_t *m, const kctx_t *kc, const float *x, const float *x_ids,
                      int nx, float timestep, const float *ctx, const float *ctx_ids, int nt,
                      float guidance, float *out);

#endif
