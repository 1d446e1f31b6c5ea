/* engine.h - imgapi's inference engine for Stable Diffusion family checkpoints.
 *
 *   eng_model_t *m;  eng_load(&opts, &m, err, sizeof err);
 *   eng_generate(m, &params, progress, user, &image);   // image: RGB, caller frees (img_free)
 *   eng_free(m);
 *
 * Everything runs on the CPU, in f32 (or with precision bf16, bfloat16 products summed in f32:
 * eng_info_t.products). A model is safe to use from one generation at a time; the
 * caller serialises (the server's registry does). */
#ifndef IMGAPI_ENGINE_ENGINE_H
#define IMGAPI_ENGINE_ENGINE_H
#include "engine/lora/lora.h"
#include "image/image.h"
#include <stddef.h>
#include <stdint.h>

typedef struct eng_model eng_model_t;

typedef enum { ENG_PRED_EPS = 0, ENG_PRED_V } eng_prediction_t;
#define ENG_FAMILY_FLUX2 3 /* eng_info_t.family of a FLUX.2 model (0-2: SD1, SD2, SDXL) */
typedef enum { ENG_SCHED_DISCRETE = 0, ENG_SCHED_KARRAS, ENG_SCHED_TRAILING } eng_schedule_t;

typedef struct {
    const char *checkpoint; /* single-file .safetensors with LDM keys (UNet, VAE, text encoders) */
    const char *tokenizer;  /* bpe_simple_vocab_16e6.txt.gz, or a folder with vocab.json+merges.txt */
    const char *vae;        /* optional separate VAE .safetensors (FLUX.2: its autoencoder) */
    const char *text_encoder; /* a separate text encoder's weights (FLUX.2: Qwen3) */
    const char *tiny_decoder; /* optional TAESD-style decoder .safetensors; a checkpoint without
                                 a VAE then decodes everything with it */
    const char *tiny_encoder; /* optional TAESD-style encoder .safetensors (NULL: the tiny
                                 decoder's file, when it holds one): edits for a model whose
                                 VAE has no encoder */
    eng_prediction_t prediction;
    int threads;            /* 0 = one per CPU core */
    const char *isa;        /* NULL/"auto", "avx512", "avx2", "portable" */
    const char *precision;  /* NULL/"fp32", or "bf16" (kctx_create) */
    int weights_q8;         /* every matrix and convolution held as 8-bit panels (`weights = q8`) */
    int weights_auto; /* `weights = auto`: so when the checkpoint holds block-quantized tensors */
    int release_text_encoder; /* a separate text encoder is loaded for each prompt and freed after
                                 it (FLUX.2: peak memory without Qwen3 beside the transformer) */
    int vae_tile, vae_tile_overlap; /* KL decoding in tiles (latents a side; 0: never) */
    /* optional: called from the loading thread as the checkpoint's weights are read, with the
     * share done (0..1; 1 when loaded) */
    void (*progress)(void *user, double fraction);
    void *progress_user;
    /* textual-inversion embeddings (NAME.safetensors) prompts may name; NULL/"": none */
    const char *embeddings_dir;
    /* adapters merged into the checkpoint's weights before its networks are built (lora.h) */
    const lora_spec_t *loras;
    int nloras;
} eng_load_opts_t;

typedef struct {
    const char *prompt, *negative_prompt;
    int width, height; /* pixels; rounded down to what the model can take (eng_info: multiple) */
    int steps;
    float guidance;    /* classifier-free guidance; <= 1 skips the unconditional pass */
    int sampler;       /* sampler_kind_t */
    eng_schedule_t schedule;
    uint32_t seed;
    int fast_decode; /* use the tiny decoder when the model has one */
    int previews;    /* decode a preview after every step (needs a tiny decoder) */
    /* Edits (eng_info_t.can_edit): start from init_image (RGB, exactly the working width x
     * height: the caller resizes) re-noised by strength (0 < strength <= 1: the share of the
     * schedule that is run again; 1 starts from pure noise). With mask (width x height bytes,
     * nonzero = repaint) only the masked area changes: a 9-channel inpainting UNet is given the
     * mask and the masked image's latent, any other UNet's prediction outside the mask is held
     * to the image's latent at every step. The caller composites the unmasked pixels back. */
    const img_t *init_image;
    float strength;
    const uint8_t *mask;
    /* a multi-image edit's other images, each exactly width x height, for a model that edits
     * by reference (eng_info_t.max_images > 1): more references beside init_image */
    const img_t *const *more_images;
    int nmore;
    /* for parity checks against reference pipelines (imgapi debug): the initial noise (the
     * latent's size, planes [C, H/up, W/up]; NULL: from seed) and, when not NULL, a copy of the
     * decoder's output planes [3, H, W] before they are made 8-bit (*decoded_zero_to_one: 1 when
     * in [0, 1], 0 when in [-1, 1]) */
    const float *noise;
    float *decoded;
    int *decoded_zero_to_one;
} eng_params_t;

/* Called after every sampling step with, when previews were asked for and the model has a tiny
 * decoder, the current estimate of the image (valid during the call only); a nonzero return
 * cancels (eng_generate returns IMG_ECANCELLED). */
typedef int (*eng_progress_fn)(void *user, int step, int steps, const img_t *preview);

/* What runs a model's matrix products: f32 kernels, or precision bf16 on the portable C kernels,
 * AVX512-BF16's dot product or AMX tiles (kctx_create decides). */
typedef enum {
    ENG_PRODUCTS_F32 = 0,
    ENG_PRODUCTS_BF16_C,
    ENG_PRODUCTS_BF16_AVX512,
    ENG_PRODUCTS_BF16_AMX
} eng_products_t;

typedef struct {
    int family;      /* 0 SD1, 1 SD2, 2 SDXL, ENG_FAMILY_FLUX2 */
    int native;      /* native square resolution in pixels */
    int multiple;    /* image sides must be multiples of this (decoder upscale << UNet downsamples) */
    int tiny_only;   /* no KL VAE: every quality decodes with the tiny decoder */
    int latent_channels;
    float vae_scale;
    int can_edit;    /* has a KL encoder or a tiny one: image to image and inpainting */
    int max_images;  /* input images one edit takes (0 when it cannot edit) */
    int inpaint_unet; /* a 9-channel inpainting UNet (mask and masked image as conditioning) */
    eng_products_t products;
} eng_info_t;

#define ENG_MAX_STAT_STEPS 64

/* Where the time of the last generation went (benchmarks). GFLOP counts GEMM and attention. */
typedef struct {
    double tokenize_s, text_s, decode_s, total_s;
    double step_s[ENG_MAX_STAT_STEPS];
    int steps;
    double text_gflop, steps_gflop, decode_gflop;
    double encode_s, encode_gflop; /* an edit's image encoding (its latents and masked latent) */
    int width, height; /* the working resolution */
} eng_stats_t;

/* IMG_EADAPTER when one of opts->loras cannot be applied (err names it as its spec does). */
int eng_load(const eng_load_opts_t *opts, eng_model_t **out, char *err, size_t errlen);
/* The native resolution of a checkpoint and the multiple its sides must be (eng_info_t), from its
 * metadata and tensor names, without loading it. */
int eng_probe_native(const char *checkpoint, int *native, int *multiple, char *err, size_t errlen);
void eng_last_stats(const eng_model_t *m, eng_stats_t *out);
/* Whether a checkpoint (and its separate VAE, tiny encoder and tiny decoder, each NULL or empty
 * when absent) can edit (its VAE has an encoder, or a tiny encoder is there): *can_edit the
 * input images one edit takes (0: none), and whether its UNet is a 9-channel inpainting one,
 * from tensor names, without loading the checkpoint. */
int eng_probe_edit(const char *checkpoint, const char *vae, const char *tiny_encoder,
                   const char *tiny_decoder, int *can_edit, int *inpaint);
void eng_free(eng_model_t *m);
const eng_info_t *eng_info(const eng_model_t *m);
/* 1 when the model can produce step previews (it has a tiny decoder). */
int eng_has_previews(const eng_model_t *m);
/* BPE tokens of a prompt (what the API reports as input tokens). */
int eng_count_tokens(eng_model_t *m, const char *prompt);
int eng_generate(eng_model_t *m, const eng_params_t *p, eng_progress_fn progress, void *user,
                 img_t *out);

#endif
