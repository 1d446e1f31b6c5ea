/* flux2_family.c - FLUX.2 ([klein] and the other sizes of the same architecture) as a family of
 * the pipeline (engine/family.h): Qwen's tokenizer and chat template (flux2_prompt.h), the Qwen3
 * text encoder's hidden states after a quarter, half and three quarters of its layers
 * (qwen3.h), the rectified-flow transformer predicting a velocity (flux2_transformer.h) on the
 * schedule shifted by the image's token count (flux2_sampler.h), and the autoencoder with its
 * patchified, normalised 128-channel latent (flux2_ae.h).
 *
 * Files: the model's checkpoint is the transformer (BFL's layout, bare or under
 * "model.diffusion_model."); eng_load_opts_t's vae is the autoencoder, text_encoder the Qwen3
 * weights (Hugging Face's names, bare or under "model."), tokenizer its tokenizer.json or folder.
 *
 * The pipeline's latent is [128, H/16, W/16] (channel planes; 16: the autoencoder's 8x and 2x2
 * patches); the transformer reads it as H/16 x W/16 tokens of 128 features, row by row, with
 * positions (0, row, column, 0); the text's 512 tokens sit at (0, 0, 0, i). Denoised = x - sigma *
 * velocity. An edit does not re-noise its images: their latents' tokens join the sequence as
 * references, image i at time position 10 + 10 i (Flux2KleinPipeline's _prepare_image_ids), and
 * generation starts from noise. */
#include "engine/models/flux2/flux2_family.h"
#include "common/status.h"
#include "engine/models/flux2/flux2_ae.h"
#include "engine/models/flux2/flux2_prompt.h"
#include "engine/models/flux2/flux2_sampler.h"
#include "engine/models/flux2/flux2_transformer.h"
#include "engine/models/flux2/qwen3.h"
#include "engine/models/weights.h"
#include "engine/text/bbpe.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input images one edit takes: each adds the image's tokens to every step's sequence (and about
 * its share of the step's time), so four, where the hosted model takes sixteen. */
#define FLUX2_MAX_IMAGES 4

typedef struct {
    bbpe_t *tok;
    qwen3_t *te;   /* NULL between prompts when the text encoder is released after each */
    char *te_path; /* its file, to load it again (owned) */
    int te_wflags;
    int te_release; /* load the text encoder for each prompt and free it after */
    flux2_dit_t *dit;
    flux2_ae_t *ae;
    int stack[3];
    int ctx_dim; /* 3 * the text encoder's hidden width: the transformer's context width */
    int scale;   /* image pixels per latent pixel */
    eng_info_t info;
} fx_t;

/* One generation: the conditioning (and the unconditional one when guided), positions, the
 * transformer's sequence and predictions, and an edit's reference tokens (built on the first
 * step from the pipeline's image latent). */
typedef struct {
    int lh, lw, nx, C, guided, embedded;
    float guidance;
    float *ctx_c, *ctx_u, *ctx_ids; /* [FLUX2_TEXT_LEN, ctx_dim], ids [FLUX2_TEXT_LEN, 4] */
    float *ids;                     /* [nx + nref, 4]: the image's, then the reference's */
    float *seq, *v, *vu;            /* [nx + nref, C] */
    int nref, have_ref;
} fx_job_t;

static int has_name(const st_file_t *f, const char *name) {
    char full[160];
    snprintf(full, sizeof full, "model.diffusion_model.%s", name);
    return st_find(f, name) || st_find(f, full);
}

static int fx_probe(const st_file_t *f) {
    return has_name(f, "double_stream_modulation_img.lin.weight") &&
           has_name(f, "single_stream_modulation.lin.weight");
}

static void fx_probe_native(const st_file_t *f, int *native, int *multiple) {
    (void)f;
    *native = 1024; /* Flux2KleinPipeline's default_sample_size 128 x 8 */
    *multiple = 16; /* 8x the autoencoder, 2x2 patches */
}

static int vae_has_encoder(const st_file_t *vae) {
    return vae && st_find(vae, "encoder.conv_in.weight") != NULL;
}

static void fx_probe_edit(const st_file_t *f, const st_file_t *vae, const char *tiny_encoder_path,
                          int *can_edit, int *inpaint) {
    (void)f;
    (void)tiny_encoder_path;
    *can_edit = vae_has_encoder(vae) ? FLUX2_MAX_IMAGES : 0;
    *inpaint = 0;
}

static void fx_free(void *fam) {
    fx_t *m = fam;
    if (!m) return;
    bbpe_free(m->tok);
    qwen3_free(m->te);
    free(m->te_path);
    flux2_dit_free(m->dit);
    flux2_ae_free(m->ae);
    free(m);
}

/* Opens path (named by the configuration key key) and loads one part from it with load. */
static int open_needed(const char *path, const char *what, st_file_t **f, char *err,
                       size_t errlen) {
    if (!path || !*path) {
        snprintf(err, errlen, "a FLUX.2 model needs its %s", what);
        return IMG_EINVAL;
    }
    return st_open(path, f, err, errlen);
}

static int fx_load(const eng_load_opts_t *o, const st_file_t *f, kctx_t *kc, arena_t *arena,
                   void **fam, fam_desc_t *d, char *err, size_t errlen) {
    (void)arena;
    fx_t *m = calloc(1, sizeof *m); /* owned by *fam, or freed below */
    if (!m) {
        snprintf(err, errlen, "out of memory loading the model");
        return IMG_ENOMEM;
    }
    int wflags = (kc->bf16 ? W_BF16 : 0) |
                 (o->weights_q8 || (o->weights_auto && st_has_blocks(f)) ? W_Q8 : 0);
    st_file_t *af = NULL, *tf = NULL;
    int rc = IMG_OK;
    if (!o->tokenizer || !*o->tokenizer) {
        snprintf(err, errlen,
                 "a FLUX.2 model needs its tokenizer (Qwen's tokenizer.json, model.ID.tokenizer)");
        rc = IMG_EINVAL;
    }
    if (!rc) rc = bbpe_load(o->tokenizer, &m->tok, err, errlen);
    if (!rc) rc = flux2_dit_load(f, wflags, &m->dit, err, errlen);
    if (!rc)
        rc = open_needed(o->vae, "autoencoder (ae.safetensors, model.ID.vae)", &af, err, errlen);
    if (!rc) rc = flux2_ae_load(af, wflags, &m->ae, err, errlen);
    if (!rc)
        rc = open_needed(o->text_encoder, "text encoder (Qwen3 weights, model.ID.text_encoder)",
                         &tf, err, errlen);
    if (!rc) rc = qwen3_load(tf, wflags, &m->te, err, errlen);
    st_close(af);
    st_close(tf);
    if (!rc) {
        const flux2_dit_info_t *di = flux2_dit_info(m->dit);
        qwen3_flux2_layers(m->te, m->stack);
        m->ctx_dim = 3 * qwen3_info(m->te)->hidden;
        if (di->context_dim != m->ctx_dim) {
            snprintf(
                err, errlen,
                "the text encoder's stacked width %d does not match the transformer's context %d",
                m->ctx_dim, di->context_dim);
            rc = IMG_EFORMAT;
        } else if (di->in_channels != flux2_ae_latent_channels(m->ae)) {
            snprintf(err, errlen,
                     "the autoencoder's latent (%d channels) does not match the transformer's %d",
                     flux2_ae_latent_channels(m->ae), di->in_channels);
            rc = IMG_EFORMAT;
        } else if ((size_t)qwen3_info(m->te)->vocab < bbpe_vocab_size(m->tok)) {
            snprintf(err, errlen, "the tokenizer's %zu ids do not fit the text encoder's %d",
                     bbpe_vocab_size(m->tok), qwen3_info(m->te)->vocab);
            rc = IMG_EFORMAT;
        }
    }
    m->te_wflags = wflags;
    m->te_release = o->release_text_encoder;
    if (!rc && !(m->te_path = strdup(o->text_encoder))) rc = IMG_ENOMEM;
    if (!rc && m->te_release) { /* checked above; loaded again for each prompt */
        qwen3_free(m->te);
        m->te = NULL;
    }
    if (rc) {
        fx_free(m);
        return rc;
    }
    eng_info_t *in = &m->info;
    in->family = ENG_FAMILY_FLUX2;
    fx_probe_native(f, &in->native, &in->multiple);
    m->scale = in->multiple = flux2_ae_scale(m->ae); /* 16 for FLUX.2's: 8x, then 2x2 patches */
    in->latent_channels = flux2_ae_latent_channels(m->ae);
    in->vae_scale = 1.f; /* the autoencoder normalises its own latent */
    in->can_edit = flux2_ae_has_encoder(m->ae);
    in->max_images = in->can_edit ? FLUX2_MAX_IMAGES : 0;
    *d = (fam_desc_t){.info = *in, .upscale = m->scale, .previews = 0, .edit_by_reference = 1};
    *fam = m;
    return IMG_OK;
}

static int fx_count_tokens(void *fam, const char *prompt) {
    fx_t *m = fam;
    int32_t *ids;
    size_t n;
    if (bbpe_encode(m->tok, prompt, &ids, &n)) return 0;
    free(ids);
    return n > 1000000 ? 1000000 : (int)n;
}

/* ---- conditioning ---- */

static int encode(fx_t *m, kctx_t *kc, const char *prompt, float *ctx) {
    int32_t ids[FLUX2_TEXT_LEN], mask[FLUX2_TEXT_LEN];
    int rc = flux2_prompt_tokens(m->tok, prompt, FLUX2_TEXT_LEN, ids, mask, NULL, NULL);
    if (!rc) rc = qwen3_hidden(m->te, kc, ids, mask, FLUX2_TEXT_LEN, m->stack, 3, ctx);
    return rc;
}

static void fx_end(void *job) {
    fx_job_t *j = job;
    if (!j) return;
    free(j->ctx_c);
    free(j->ctx_u);
    free(j->ctx_ids);
    free(j->ids);
    free(j->seq);
    free(j->v);
    free(j->vu);
    free(j);
}

static int fx_begin(void *fam, kctx_t *kc, const fam_request_t *r, void **job) {
    fx_t *m = fam;
    fx_job_t *j = calloc(1, sizeof *j); /* owned by *job (fx_end) */
    if (!j) return IMG_ENOMEM;
    j->lh = r->height / m->scale;
    j->lw = r->width / m->scale;
    j->nx = j->lh * j->lw;
    j->C = m->info.latent_channels;
    /* a checkpoint with a guidance embedding takes the scale as an input, without a second pass */
    j->embedded = flux2_dit_info(m->dit)->has_guidance;
    j->guided = r->guided && !j->embedded;
    j->guidance = r->guidance;
    j->nref = r->edit * j->nx; /* every reference image is the output's size */
    size_t n = (size_t)(j->nx + j->nref), tl = FLUX2_TEXT_LEN;
    j->ctx_c = malloc(sizeof(float) * tl * (size_t)m->ctx_dim);
    j->ctx_u = j->guided ? malloc(sizeof(float) * tl * (size_t)m->ctx_dim) : NULL;
    j->ctx_ids = calloc(tl * 4, sizeof(float));
    j->ids = calloc(n * 4, sizeof(float));
    j->seq = malloc(sizeof(float) * n * (size_t)j->C);
    j->v = malloc(sizeof(float) * n * (size_t)j->C);
    j->vu = j->guided ? malloc(sizeof(float) * n * (size_t)j->C) : NULL;
    int rc =
        j->ctx_c && j->ctx_ids && j->ids && j->seq && j->v && (!j->guided || (j->ctx_u && j->vu))
            ? IMG_OK
            : IMG_ENOMEM;
    for (size_t i = 0; !rc && i < tl; i++)
        j->ctx_ids[i * 4 + 3] = (float)i;
    for (int t = 0; !rc && t < j->nx; t++) {
        j->ids[(size_t)t * 4 + 1] = (float)(t / j->lw);
        j->ids[(size_t)t * 4 + 2] = (float)(t % j->lw);
    }
    for (int t = 0; !rc && t < j->nref; t++) { /* reference image i at time position 10 + 10 i */
        float *id = j->ids + (size_t)(j->nx + t) * 4;
        int p = t % j->nx;
        id[0] = 10.f + 10.f * (float)(t / j->nx);
        id[1] = (float)(p / j->lw);
        id[2] = (float)(p % j->lw);
    }
    if (!rc && !m->te) { /* released after the last prompt: from its file again */
        char err[256];
        st_file_t *tf = NULL;
        rc = st_open(m->te_path, &tf, err, sizeof err);
        if (!rc) rc = qwen3_load(tf, m->te_wflags, &m->te, err, sizeof err);
        st_close(tf);
        if (rc && rc != IMG_ENOMEM) rc = IMG_EMODEL;
    }
    if (!rc) rc = encode(m, kc, r->prompt, j->ctx_c);
    if (!rc && j->guided) rc = encode(m, kc, r->negative, j->ctx_u); /* the pipeline's "" */
    if (m->te_release) {
        qwen3_free(m->te);
        m->te = NULL;
    }
    if (rc) {
        fx_end(j);
        return rc;
    }
    *job = j;
    return IMG_OK;
}

/* ---- sampling ---- */

static void fx_sigmas(void *fam, void *job, int steps, eng_schedule_t kind, float *sigmas) {
    (void)fam;
    (void)kind; /* the family's own schedule: shifted by the image's token count */
    const fx_job_t *j = job;
    flux2_schedule(steps, j->nx, sigmas);
}

static void fx_noised(const float *z0, const float *noise, float sigma, size_t n, float *x) {
    for (size_t k = 0; k < n; k++)
        x[k] = z0 ? (1.f - sigma) * z0[k] + sigma * noise[k] : noise[k];
}

/* planes [C, count] -> tokens [count, C] at dst. */
static void to_tokens(const float *planes, int C, int count, float *dst) {
    for (int c = 0; c < C; c++)
        for (int t = 0; t < count; t++)
            dst[(size_t)t * C + c] = planes[(size_t)c * count + t];
}

static int fx_denoise(void *fam, kctx_t *kc, void *job, const float *x, float sigma,
                      const fam_edit_t *edit, float *den) {
    fx_t *m = fam;
    fx_job_t *j = job;
    int C = j->C, n = j->nx + j->nref;
    if (j->nref && !j->have_ref) { /* the reference tokens stay the same for every step */
        if (!edit || !edit->refs || edit->nrefs * j->nx != j->nref) return IMG_EINVAL;
        for (int i = 0; i < edit->nrefs; i++)
            to_tokens(edit->refs + (size_t)i * C * j->nx, C, j->nx,
                      j->seq + (size_t)j->nx * (1 + i) * C);
        j->have_ref = 1;
    }
    to_tokens(x, C, j->nx, j->seq);
    float g = j->embedded ? j->guidance : 1.f;
    int rc = flux2_dit_forward(m->dit, kc, j->seq, j->ids, n, sigma, j->ctx_c, j->ctx_ids,
                               FLUX2_TEXT_LEN, g, j->v);
    if (!rc && j->guided)
        rc = flux2_dit_forward(m->dit, kc, j->seq, j->ids, n, sigma, j->ctx_u, j->ctx_ids,
                               FLUX2_TEXT_LEN, g, j->vu);
    if (rc) return rc;
    for (int c = 0; c < C; c++)
        for (int t = 0; t < j->nx; t++) {
            size_t k = (size_t)t * C + c;
            float v = j->guided ? j->vu[k] + j->guidance * (j->v[k] - j->vu[k]) : j->v[k];
            size_t p = (size_t)c * j->nx + t;
            den[p] = x[p] - sigma * v;
        }
    return IMG_OK;
}

/* ---- images ---- */

static int fx_decode(void *fam, kctx_t *kc, float *x, int lh, int lw, int fast, float *rgb,
                     int *zero_to_one) {
    (void)fast; /* no quick decoder */
    fx_t *m = fam;
    *zero_to_one = 0;
    return flux2_ae_decode(m->ae, kc, x, lh, lw, rgb);
}

static int fx_encode_image(void *fam, kctx_t *kc, float *img, int H, int W, float *z) {
    fx_t *m = fam;
    if (!flux2_ae_has_encoder(m->ae)) return IMG_EUNSUPPORTED;
    return flux2_ae_encode(m->ae, kc, img, H, W, z, NULL, NULL);
}

const fam_ops_t FLUX2_FAMILY = {
    .name = "flux2",
    .probe = fx_probe,
    .probe_native = fx_probe_native,
    .probe_edit = fx_probe_edit,
    .load = fx_load,
    .free = fx_free,
    .count_tokens = fx_count_tokens,
    .begin = fx_begin,
    .end = fx_end,
    .sigmas = fx_sigmas,
    .noised = fx_noised,
    .denoise = fx_denoise,
    .decode = fx_decode,
    .encode_image = fx_encode_image,
    .preview = NULL, /* no quick decoder: desc.previews is 0 */
};
