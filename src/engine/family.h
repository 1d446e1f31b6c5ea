/* family.h - what a model family gives the pipeline (engine/pipeline.c).
 *
 * The pipeline owns what every family shares: the kernel context and its work arena, the
 * request's checks, the seed's noise, the sampler, an edit's latents and mask, statistics and
 * the RGB image. A family owns its weights and everything that depends on its architecture:
 * how a prompt becomes conditioning, what its denoiser predicts and how that becomes the
 * denoised latent (eps, v, flow ...), its noise schedule, how a latent is decoded to RGB and an
 * image encoded to a latent. A family is a row in the detector (family.c) and a file under
 * engine/models/; nothing else in the engine, the sampler or the server names it.
 *
 *   void *fam;  fam_desc_t d;
 *   ops->load(opts, f, kc, arena, &fam, &d, err, errlen);     // f: the opened checkpoint
 *   void *job;  ops->begin(fam, kc, &req, &job);                // per generation: conditioning
 *   ops->sigmas(fam, job, steps, schedule, sigmas);
 *   ops->denoise(fam, kc, job, x, sigma, edit, den);            // once per sampler evaluation
 *   ops->decode(fam, kc, x, lh, lw, fast, rgb, &zero_to_one);
 *   ops->end(job);  ops->free(fam);
 */
#ifndef IMGAPI_ENGINE_FAMILY_H
#define IMGAPI_ENGINE_FAMILY_H
#include "engine/engine.h"
#include "engine/io/safetensors.h"
#include "engine/kernels/kctx.h"
#include "engine/runtime/arena.h"
#include <stddef.h>

/* What a loaded family tells the pipeline. info.products is the pipeline's to fill. */
typedef struct {
    eng_info_t info;
    int upscale;  /* image pixels per latent pixel a side */
    int previews; /* 1 when preview() can decode an intermediate latent */
    /* 1 when an edit conditions on the image's latent (fam_edit_t.z0, given to denoise) instead
     * of re-noising it: sampling then starts from noise whatever the strength */
    int edit_by_reference;
} fam_desc_t;

/* One generation's request as a family sees it (the working size is a multiple of
 * info.multiple). */
typedef struct {
    const char *prompt, *negative; /* negative: "" when none */
    int guided;                    /* run an unconditional pass (classifier-free guidance) */
    float guidance;
    int width, height;
    int edit, inpaint; /* the input images given (0: none); with a mask, for a 9-channel UNet */
} fam_request_t;

/* An edit's latents, owned by the pipeline: the image's latent, the latent mask (1: repaint;
 * NULL without a mask) and the masked image's latent (a 9-channel inpainting UNet's input);
 * refs: a family that edits by reference gets every input image's latent, one after the other
 * (z0 the first), nrefs of them. */
typedef struct {
    const float *z0, *mask_lat, *masked_lat;
    const float *refs;
    int nrefs;
} fam_edit_t;

typedef struct {
    const char *name;
    /* 1 when the opened file holds this family's denoiser (the detector asks each row). */
    int (*probe)(const st_file_t *f);
    /* The native square size and the multiple image sides must be, from names and metadata. */
    void (*probe_native)(const st_file_t *f, int *native, int *multiple);
    /* Whether f (with its separate VAE file vae, NULL when none, and a tiny encoder's file) can
     * edit (*can_edit: the input images one edit takes, 0 none), and whether its denoiser is an
     * inpainting one. */
    void (*probe_edit)(const st_file_t *f, const st_file_t *vae, const char *tiny_encoder_path,
                       int *can_edit, int *inpaint);
    /* Loads the family's parts from f (opened by the caller, closed after) and o's other files;
     * *fam is owned by the caller through free(). Errors are written to err. */
    int (*load)(const eng_load_opts_t *o, const st_file_t *f, kctx_t *kc, arena_t *arena,
                void **fam, fam_desc_t *d, char *err, size_t errlen);
    void (*free)(void *fam);
    /* Text tokens of a prompt (what the API reports as input tokens); 0 when it cannot tell. */
    int (*count_tokens)(void *fam, const char *prompt);
    /* A generation's conditioning and work memory (*job, freed by end()). */
    int (*begin)(void *fam, kctx_t *kc, const fam_request_t *r, void **job);
    void (*end)(void *job);
    /* steps + 1 noise levels, descending to 0, for the generation job began. */
    void (*sigmas)(void *fam, void *job, int steps, eng_schedule_t kind, float *sigmas);
    /* x at noise level sigma from the clean latent z0 (NULL: generation) and unit noise. */
    void (*noised)(const float *z0, const float *noise, float sigma, size_t n, float *x);
    /* The denoised latent predicted from x at sigma (guidance applied). */
    int (*denoise)(void *fam, kctx_t *kc, void *job, const float *x, float sigma,
                   const fam_edit_t *edit, float *den);
    /* RGB planes of latent x (overwritten); fast: the quick decoder where there is one.
     * *zero_to_one: 1 when rgb is in [0, 1], 0 when in [-1, 1]. */
    int (*decode)(void *fam, kctx_t *kc, float *x, int lh, int lw, int fast, float *rgb,
                  int *zero_to_one);
    /* The latent of img ([3, H, W] in [-1, 1], may be overwritten); NULL when it cannot edit. */
    int (*encode_image)(void *fam, kctx_t *kc, float *img, int H, int W, float *z);
    /* A quick RGB [0, 1] of an intermediate latent; NULL when there is none. */
    int (*preview)(void *fam, kctx_t *kc, const float *den, int lh, int lw, float *rgb);
} fam_ops_t;

/* The family of an opened checkpoint: the first row whose probe accepts it, else the Stable
 * Diffusion family (its loader then says what the file lacks). */
const fam_ops_t *fam_detect(const st_file_t *f);

#endif
