/* vae.h - the KL autoencoder's decoder (post_quant_conv + Decoder) of the LDM family: latent
 * z [4, h, w] -> image [3, 8h, 8w] in [-1, 1] (not clamped). Levels, blocks per level and
 * channels come from the tensors. */
#ifndef IMGAPI_ENGINE_MODELS_VAE_H
#define IMGAPI_ENGINE_MODELS_VAE_H
#include "engine/io/safetensors.h"
#include "engine/kernels/kctx.h"
#include "engine/models/unet.h"

typedef struct vae vae_t;

/* wflags: W_BF16, W_Q8 (weights.h): how the matrices are packed. */
int vae_load(const st_file_t *f, int wflags, vae_t **out, char *err, size_t errlen);
void vae_free(vae_t *v);
int vae_latent_channels(const vae_t *v);
int vae_upscale(const vae_t *v); /* 8 for SD */
/* Sizes the work arena for an h x w latent. */
int vae_prepare(vae_t *v, int h, int w);
/* Borrow a shared arena (see unet_use_arena); NULL returns to an own one. */
void vae_use_arena(vae_t *v, arena_t *shared);
/* z (already divided by the scale factor) -> image; taps as in unet.h. */
int vae_decode(vae_t *v, const kctx_t *kc, const float *z, int h, int w, float *image,
               unet_tap_fn tap, void *tap_user);
/* The same over overlapping tiles of at most tile x tile latents (vae_tiled.c), when the latent is
 * larger than that; overlap: latents shared by neighbouring tiles (1 .. tile/2 - 1). tile 0:
 * never tiled. */
int vae_decode_tiled(vae_t *v, const kctx_t *kc, const float *z, int h, int w, int tile, int overlap,
                     float *image);

#endif
