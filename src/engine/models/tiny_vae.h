/* tiny_vae.h - the tiny autoencoder (TAESD-style): a plain sequence of convolutions, residual
 * blocks, ReLUs and 2x resampling between RGB in [0, 1] and diffusion-space latents (already
 * multiplied by the scale factor). The decoder is much cheaper than the KL decoder (fast
 * low-quality output, previews); the encoder lets a model that has only a tiny autoencoder edit.
 *
 * The layer sequence is read from the tensor names under a prefix ("decoder.layers.",
 * "encoder.layers.", or none in a file of one part): N.weight is a convolution, N.conv.0.weight
 * a block; a layer without weights is the clamp when first, a ReLU after a convolution, and 2x
 * nearest upsampling after a block (decoder). In an encoder, a convolution after the first layer
 * that is followed by a block has stride 2 (TAESD's layout and train/model.py's Encoder). A
 * sequence whose first convolution takes 3 channels is an encoder; one whose last gives 3 is a
 * decoder. */
#ifndef IMGAPI_ENGINE_MODELS_TINY_VAE_H
#define IMGAPI_ENGINE_MODELS_TINY_VAE_H
#include "engine/io/safetensors.h"
#include "engine/kernels/kctx.h"

typedef struct tiny_vae tiny_vae_t;

typedef enum { TINY_DECODER, TINY_ENCODER } tiny_part_t;

/* Loads the decoder or the encoder of the file into *out (owned by the caller: tiny_vae_free).
 * IMG_ENOTFOUND when the file has no such part. */
int tiny_vae_load_part(const st_file_t *f, tiny_part_t part, tiny_vae_t **out, char *err,
                       size_t errlen);
/* The decoder (tiny_vae_load_part(f, TINY_DECODER, ...)). */
int tiny_vae_load(const st_file_t *f, tiny_vae_t **out, char *err, size_t errlen);
void tiny_vae_free(tiny_vae_t *t);
int tiny_vae_upscale(const tiny_vae_t *t);   /* decoder: 8 for SD; encoder: 1 */
int tiny_vae_downscale(const tiny_vae_t *t); /* encoder: 8 for SD; decoder: 1 */
int tiny_vae_latent_channels(const tiny_vae_t *t);
/* Decoder: latent [c, h, w] (diffusion space, not divided by the scale factor) -> image
 * [3, s*h, s*w] in [0, 1]. */
int tiny_vae_decode(tiny_vae_t *t, const kctx_t *kc, const float *latent, int h, int w,
                    float *image);
/* Encoder: image [3, h, w] in [0, 1] (h, w multiples of the downscale) -> latent
 * [c, h/s, w/s] in diffusion space. */
int tiny_vae_encode(tiny_vae_t *t, const kctx_t *kc, const float *image, int h, int w,
                    float *latent);

#endif
