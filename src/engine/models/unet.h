/* unet.h - the LDM UNet of SD 1.x, SD 2.x and SDXL, built from the checkpoint's tensors:
 * levels, res blocks, transformer depth per level, linear or conv projections, SDXL's added
 * conditioning. Input and output are NCHW like the reference; work is channels-last. */
#ifndef IMGAPI_ENGINE_MODELS_UNET_H
#define IMGAPI_ENGINE_MODELS_UNET_H
#include "engine/io/safetensors.h"
#include "engine/kernels/kctx.h"
#include "engine/runtime/arena.h"

typedef enum { UNET_SD1 = 0, UNET_SD2, UNET_SDXL } unet_family_t;

typedef struct {
    unet_family_t family;
    int in_ch, out_ch, model_ch, ctx_dim, adm_in; /* adm_in 0 unless SDXL */
    int downsamples; /* latent sizes must be multiples of 1 << downsamples */
} unet_info_t;

typedef struct unet unet_t;

/* Observes intermediate outputs (NHWC) for debugging; name like "input_blocks.3". */
typedef void (*unet_tap_fn)(void *user, const char *name, const float *x, int h, int w, int c);

/* Finds "model.diffusion_model." or a diffusers-free bare UNet automatically. wflags:
 * W_BF16, W_Q8 (weights.h): how the matrices are packed. */
int unet_load(const st_file_t *f, int wflags, unet_t **out, char *err, size_t errlen);
void unet_free(unet_t *u);
const unet_info_t *unet_info(const unet_t *u);
/* Sizes the work arena for an h x w latent and nctx context tokens (allocates only when it
 * grows); unet_forward then allocates nothing. */
int unet_prepare(unet_t *u, int h, int w, int nctx);
/* Borrow a shared arena (the model's, also lent to its decoder) instead of an own one; NULL
 * returns to an own arena. The arena must outlive u's use of it. */
void unet_use_arena(unet_t *u, arena_t *shared);
/* eps = UNet(x [in_ch, h, w], t, context [nctx, ctx_dim], y [adm_in] or NULL) -> out [out_ch, h, w]. */
int unet_forward(unet_t *u, const kctx_t *kc, const float *x, int h, int w, float t,
                 const float *context, int nctx, const float *y, float *out, unet_tap_fn tap,
                 void *tap_user);
/* The sinusoidal embedding the model uses for t (model_ch values). */
void unet_timestep_embedding(const unet_t *u, float t, float *out);

#endif
