/* tiny_vae.h - the tiny autoencoder's decoder (TAESD-style): clamp, convolutions, residual
 * blocks and nearest upsampling, from diffusion-space latents straight to RGB in [0, 1]. Much
 * cheaper than the KL decoder: for fast low-quality output and previews. The layer sequence is
 * read from the tensor names (N.weight: convolution, N.conv.0.weight: block; a layer without
 * weights is the clamp when first, ReLU after a convolution, 2x upsampling after a block). */
#ifndef IMGAPI_ENGINE_MODELS_TINY_VAE_H
#define IMGAPI_ENGINE_MODELS_TINY_VAE_H
#include "engine/io/safetensors.h"
#include "engine/kernels/kctx.h"

typedef struct tiny_vae tiny_vae_t;

int tiny_vae_load(const st_file_t *f, tiny_vae_t **out, char *err, size_t errlen);
void tiny_vae_free(tiny_vae_t *t);
int tiny_vae_upscale(const tiny_vae_t *t);
int tiny_vae_latent_channels(const tiny_vae_t *t);
/* latent [c, h, w] (diffusion space, not divided by the scale factor) -> image [3, s*h, s*w]. */
int tiny_vae_decode(tiny_vae_t *t, const kctx_t *kc, const float *latent, int h, int w, float *image);

#endif
