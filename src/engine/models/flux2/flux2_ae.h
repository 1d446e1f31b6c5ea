/* flux2_ae.h - the FLUX.2 autoencoder (Black Forest Labs' flux2 `autoencoder.py`): the LDM KL
 * encoder and decoder (vae_encoder.h, vae.h: the same blocks, with z_channels 32 and quant_conv /
 * post_quant_conv inside them), the mean latent patchified 2x2 into 4 * z channels and
 * normalised by a BatchNorm's running statistics (eps 1e-4, no affine):
 *
 *   encode: image [3, H, W] -> moments [2z, H/s, W/s] -> mean (first z) -> patchify ->
 *           latent [4z, H/2s, W/2s] = (x - running_mean) / sqrt(running_var + eps)
 *   decode: latent -> latent * sqrt(running_var + eps) + running_mean -> unpatchify -> image
 *
 * Patchify as the reference's rearrange "c (i pi) (j pj) -> (c pi pj) i j": channel
 * (c * 2 + pi) * 2 + pj of latent pixel (i, j) is pixel (2i + pi, 2j + pj) of channel c. */
#ifndef IMGAPI_ENGINE_MODELS_FLUX2_AE_H
#define IMGAPI_ENGINE_MODELS_FLUX2_AE_H
#include "engine/io/safetensors.h"
#include "engine/kernels/kctx.h"
#include <stddef.h>

typedef struct flux2_ae flux2_ae_t;

/* From f (BFL's ae.safetensors names: encoder.*, decoder.*, bn.running_mean, bn.running_var;
 * the file may be closed afterwards). The encoder is optional (IMG_ENOTFOUND from
 * flux2_ae_encode without one). wflags as vae_load's. Owned by *out (flux2_ae_free). */
int flux2_ae_load(const st_file_t *f, int wflags, flux2_ae_t **out, char *err, size_t errlen);
void flux2_ae_free(flux2_ae_t *a);
int flux2_ae_latent_channels(const flux2_ae_t *a); /* 4 * z_channels: 128 for FLUX.2 */
int flux2_ae_scale(const flux2_ae_t *a);           /* image pixels per latent pixel: 16 */
int flux2_ae_has_encoder(const flux2_ae_t *a);

/* latent [C, h, w] -> image [3, h * scale, w * scale] (not clamped). IMG_ENOMEM. */
int flux2_ae_decode(flux2_ae_t *a, const kctx_t *kc, const float *latent, int h, int w,
                    float *image);
/* image [3, H, W] (H, W multiples of the scale) -> latent [C, H / scale, W / scale]; moments
 * [2z, H / s, W / s] and mean [z, H / s, W / s] (s = scale / 2) too where not NULL. */
int flux2_ae_encode(flux2_ae_t *a, const kctx_t *kc, const float *image, int h, int w,
                    float *latent, float *moments, float *mean);

#endif
