/* vae_encoder.h - the KL autoencoder's encoder (Encoder + quant_conv) of the LDM family: image
 * [3, H, W] in [-1, 1] -> moments [2z, H/8, W/8] -> the latent a pipeline starts from (image to
 * image, inpainting, edits). Levels, blocks per level and channels come from the tensors. Each
 * stride-2 downsampling pads the image asymmetrically (one zero row below, one zero column to the
 * right) before a 3x3 convolution without padding, as ldm's Downsample does. */
#ifndef IMGAPI_ENGINE_MODELS_VAE_ENCODER_H
#define IMGAPI_ENGINE_MODELS_VAE_ENCODER_H
#include "engine/io/safetensors.h"
#include "engine/kernels/kctx.h"
#include "engine/models/unet.h"
#include "engine/runtime/arena.h"

typedef struct vae_encoder vae_encoder_t;

/* IMG_ENOTFOUND (err says so) when the file has no encoder (decoder-only VAEs exist). wflags:
 * W_BF16, W_Q8 (weights.h): how the matrices are packed. */
int vae_encoder_load(const st_file_t *f, int wflags, vae_encoder_t **out, char *err, size_t errlen);
void vae_encoder_free(vae_encoder_t *e);
int vae_encoder_latent_channels(const vae_encoder_t *e); /* z: 4 for SD */
/* Work memory from a model's shared arena (not thread-safe, like the arena); NULL: its own,
 * allocated per call. */
void vae_encoder_use_arena(vae_encoder_t *e, arena_t *shared);
int vae_encoder_downscale(const vae_encoder_t *e);       /* 8 for SD */

/* image [3, H, W] (NCHW, one image; H and W multiples of the downscale) -> moments
 * [2z, H/s, W/s] (after quant_conv). Taps as in unet.h, under the golden set's names
 * (encoder.conv_in_out, encoder.down.N.block_last_out, ...). IMG_ENOMEM or IMG_EINVAL. */
int vae_encode_moments(const vae_encoder_t *e, const kctx_t *kc, const float *image, int h, int w,
                       float *moments, unet_tap_fn tap, void *tap_user);

/* The same over overlapping tiles of at most `tile` latents a side (overlap in latents, under half
 * a tile; tile <= 0 or an image within one tile: vae_encode_moments exactly), blended with
 * linear ramps across the overlaps (vae_tiled.c). Each tile normalises on its own, so a tiled
 * encoding follows the whole one without equalling it; activations are sized by the tile. */
int vae_encode_tiled(const vae_encoder_t *e, const kctx_t *kc, const float *image, int h, int w,
                     int tile, int overlap, float *moments);

/* The diagonal Gaussian of the moments (n values per half): mean, logvar clamped to [-30, 20],
 * std = exp(logvar / 2), and latent = scale * (mean + std * noise) (noise NULL: the mean). Any
 * output but latent may be NULL. */
void vae_moments_to_latent(const float *moments, size_t n, const float *noise, float scale,
                           float *mean, float *logvar, float *std, float *latent);

#endif
