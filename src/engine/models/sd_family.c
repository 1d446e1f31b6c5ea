/* sd_family.c - the Stable Diffusion family (SD 1.x, 2.x, SDXL and their inpainting UNets) as a
 * family of the pipeline (engine/family.h): CLIP text encoders, an eps- or v-predicting UNet on a
 * DDPM schedule, a KL autoencoder and optional tiny (TAESD-style) ones.
 *
 * Which encoder layers feed the UNet: SD1 the last CLIP-L layer, SD2 OpenCLIP's penultimate layer
 * after ln_final, SDXL the two penultimate layers side by side plus the pooled bigG vector and size
 * conditioning. */
#include "engine/models/sd_family.h"
#include "engine/io/diffusers.h"
#include "common/status.h"
#include "engine/kernels/ops.h"
#include "engine/models/clip.h"
#include "engine/models/embeddings.h"
#include "engine/models/tiny_vae.h"
#include "engine/models/unet.h"
#include "engine/models/vae.h"
#include "engine/models/vae_encoder.h"
#include "engine/models/weights.h"
#include "engine/sampling/schedule.h"
#include "engine/text/tokenizer.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    eng_prediction_t prediction;
    tokenizer_t *tok;
    clip_t *te[2]; /* SD1/SD2: te[0]; SDXL: CLIP-L, bigG */
    ti_set_t ti;   /* textual-inversion embeddings prompts may name */
    int nte;
    unet_t *unet;
    vae_t *vae;
    vae_encoder_t *enc; /* NULL when the VAE file has no encoder */
    tiny_vae_t *tiny;
    tiny_vae_t *tiny_enc; /* used when enc is NULL; neither: no edits */
    schedule_t sched;
    int ctx_dim, ctx_len;
    int vae_tile, vae_tile_overlap;
    int upscale; /* image pixels per latent pixel, of the KL decoder or else the tiny one */
    eng_info_t info;
} sd_t;

/* One generation: both prompts' conditioning and the UNet's input and outputs (one block,
 * owned by the job). */
typedef struct {
    int lh, lw, guided;
    float guidance;
    float *ctx_c, *ctx_u, *y_c, *y_u; /* y: SDXL's vectors, NULL otherwise */
    float *xin, *eps_c, *eps_u;       /* xin: n floats, or n + hw + n for a 9-channel UNet */
    float *mem;
} sd_job_t;

/* ---- probing ---- */

/* The checkpoint's own "imgapi.native" metadata (imgapi's built-in model), else the family's:
 * SD 1.x/2.x were trained at 512 on the short side, SDXL at 1024. */
static int native_of(const st_file_t *f) {
    const char *meta = st_metadata(f, "imgapi.native");
    long v = meta ? strtol(meta, NULL, 10) : 0;
    if (v >= 8 && v <= 4096) return (int)v;
    for (size_t i = 0; i < st_count(f); i++) /* SDXL: the UNet has an added (label) embedding */
        if (strstr(st_get(f, i)->name, "label_emb.0.0.weight")) return 1024;
    return 512;
}

static int ends_with_name(const char *n, const char *suffix) {
    size_t l = strlen(n), e = strlen(suffix);
    return l >= e && !strcmp(n + l - e, suffix) && (l == e || n[l - e - 1] == '.');
}

static int sd_probe(const st_file_t *f) {
    for (size_t i = 0; i < st_count(f); i++)
        if (ends_with_name(st_get(f, i)->name, "input_blocks.0.0.weight")) return 1;
    return 0;
}

static void sd_probe_native(const st_file_t *f, int *native, int *multiple) {
    *native = native_of(f);
    int downs = 0; /* every UNet Downsample is an input block's "op" convolution */
    for (size_t i = 0; i < st_count(f); i++) {
        const char *n = st_get(f, i)->name, *ib = strstr(n, "input_blocks.");
        size_t l = strlen(n);
        downs += ib && l > 12 && strcmp(n + l - 12, ".0.op.weight") == 0;
    }
    *multiple = 8 << downs; /* every SD family's latent is 1/8 of the image side */
}

/* Whether the file at path holds a tiny autoencoder's encoder. */
static int has_tiny_encoder(const char *path) {
    char err[256];
    st_file_t *f;
    tiny_vae_t *t = NULL;
    if (!path || !*path || st_open(path, &f, err, sizeof err)) return 0;
    int ok = tiny_vae_load_part(f, TINY_ENCODER, &t, err, sizeof err) == IMG_OK;
    tiny_vae_free(t);
    st_close(f);
    return ok;
}

static void sd_probe_edit(const st_file_t *f, const st_file_t *vae, const char *tiny_encoder_path,
                          int *can_edit, int *inpaint) {
    *can_edit = has_tiny_encoder(tiny_encoder_path);
    const st_file_t *v = vae ? vae : f;
    for (size_t i = 0; i < st_count(v) && !*can_edit; i++)
        *can_edit = ends_with_name(st_get(v, i)->name, "encoder.conv_in.weight");
    *inpaint = 0;
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor_t *t = st_get(f, i);
        if (ends_with_name(t->name, "input_blocks.0.0.weight") && t->ndim == 4)
            *inpaint = t->shape[1] == 9;
    }
}

/* ---- loading ---- */

static void sd_free(void *fam) {
    sd_t *m = fam;
    if (!m) return;
    tok_free(m->tok);
    for (int i = 0; i < m->nte; i++)
        clip_free(m->te[i]);
    unet_free(m->unet);
    vae_free(m->vae);
    vae_encoder_free(m->enc);
    tiny_vae_free(m->tiny);
    tiny_vae_free(m->tiny_enc);
    ti_free(&m->ti);
    free(m);
}

/* The tiny decoder and encoder named by o (the encoder may share the decoder's file). */
static int load_tiny(const eng_load_opts_t *o, sd_t *m, char *err, size_t errlen) {
    st_file_t *tf = NULL, *ef = NULL;
    int rc = IMG_OK;
    if (o->tiny_decoder && *o->tiny_decoder) {
        rc = st_open(o->tiny_decoder, &tf, err, errlen);
        if (!rc) rc = tiny_vae_load(tf, &m->tiny, err, errlen);
    }
    if (!rc && o->tiny_encoder && *o->tiny_encoder) {
        rc = st_open(o->tiny_encoder, &ef, err, errlen);
        if (!rc) rc = tiny_vae_load_part(ef, TINY_ENCODER, &m->tiny_enc, err, errlen);
    } else if (!rc && tf) { /* a file with both parts (diffusers' AutoencoderTiny) */
        char terr[256];
        int trc = tiny_vae_load_part(tf, TINY_ENCODER, &m->tiny_enc, terr, sizeof terr);
        if (trc && trc != IMG_ENOTFOUND) {
            snprintf(err, errlen, "%s", terr);
            rc = trc;
        }
    }
    st_close(tf);
    st_close(ef);
    return rc;
}

/* The KL decoder (optional when a tiny decoder is there: imgapi's built-in model has only that)
 * and its encoder (optional: decoder-only VAE files exist), from vf or the checkpoint. */
static int load_vae(const st_file_t *f, const st_file_t *vf, int wflags, sd_t *m, char *err,
                    size_t errlen) {
    char verr[256];
    int vrc = vae_load(vf ? vf : f, wflags, &m->vae, verr, sizeof verr);
    if (vrc && (vf || vrc != IMG_ENOTFOUND || !m->tiny)) {
        snprintf(err, errlen, "%s", verr);
        return vrc;
    }
    if (m->vae) {
        int erc = vae_encoder_load(vf ? vf : f, wflags, &m->enc, verr, sizeof verr);
        if (erc && erc != IMG_ENOTFOUND) {
            snprintf(err, errlen, "%s", verr);
            return erc;
        }
    }
    return IMG_OK;
}

/* The text encoders the UNet's family takes, checked against its context width. */
static int load_text(const st_file_t *f, int wflags, const unet_info_t *ui, sd_t *m, char *err,
                     size_t errlen) {
    char prefixes[4][160];
    clip_layout_t layouts[4];
    int n = clip_find(f, prefixes, layouts, 4);
    int want = ui->family == UNET_SDXL ? 2 : 1;
    if (n < want) {
        snprintf(err, errlen, "the checkpoint lacks its text encoder%s", want == 2 ? "s" : "");
        return IMG_EFORMAT;
    }
    int rc = IMG_OK;
    for (int i = 0; i < want && !rc; i++) {
        /* SDXL: CLIP-L (HF layout) first, then bigG (OpenCLIP layout) */
        int pick = i;
        if (want == 2)
            for (int k = 0; k < n; k++)
                if ((int)layouts[k] == (i == 0 ? CLIP_LAYOUT_HF : CLIP_LAYOUT_OPENCLIP)) pick = k;
        rc = clip_load(f, prefixes[pick], wflags, &m->te[i], err, errlen);
        if (!rc) m->nte++;
    }
    if (rc) return rc;
    m->ctx_len = clip_info(m->te[0])->context;
    for (int i = 0; i < m->nte; i++)
        m->ctx_dim += clip_info(m->te[i])->width;
    if (m->ctx_dim != ui->ctx_dim) {
        snprintf(err, errlen, "text encoder width %d does not match the UNet's context %d",
                 m->ctx_dim, ui->ctx_dim);
        return IMG_EFORMAT;
    }
    if (ui->family == UNET_SDXL) {
        int pooled = clip_info(m->te[1])->proj_dim;
        if (pooled + 6 * 256 != ui->adm_in) {
            snprintf(err, errlen, "SDXL conditioning width %d does not match pooled %d + 1536",
                     ui->adm_in, pooled);
            return IMG_EFORMAT;
        }
    }
    return IMG_OK;
}

/* The description of a loaded model, and the checks that its parts fit together. */
static int describe(const st_file_t *f, sd_t *m, fam_desc_t *d, char *err, size_t errlen) {
    const unet_info_t *ui = unet_info(m->unet);
    eng_info_t *in = &m->info;
    in->family = (int)ui->family;
    in->latent_channels = ui->out_ch;
    in->inpaint_unet = ui->in_ch == 2 * ui->out_ch + 1;
    if (m->enc && vae_encoder_latent_channels(m->enc) != ui->out_ch) {
        vae_encoder_free(m->enc); /* another latent space: it cannot feed this UNet */
        m->enc = NULL;
    }
    int up = m->upscale = m->vae ? vae_upscale(m->vae) : tiny_vae_upscale(m->tiny);
    if (m->tiny_enc && (tiny_vae_latent_channels(m->tiny_enc) != ui->out_ch ||
                        tiny_vae_downscale(m->tiny_enc) != up)) {
        snprintf(err, errlen, "the tiny encoder does not match the model's latent space");
        return IMG_EFORMAT;
    }
    in->can_edit = m->enc != NULL || m->tiny_enc != NULL;
    in->max_images = in->can_edit; /* one image, re-noised */
    if (ui->in_ch != ui->out_ch && !in->inpaint_unet) {
        snprintf(err, errlen, "a UNet with %d input and %d output channels is not supported",
                 ui->in_ch, ui->out_ch);
        return IMG_EFORMAT;
    }
    if (in->inpaint_unet && !in->can_edit) {
        snprintf(err, errlen, "an inpainting UNet needs a VAE with an encoder");
        return IMG_EFORMAT;
    }
    in->vae_scale = ui->family == UNET_SDXL ? 0.13025f : 0.18215f;
    in->native = native_of(f);
    in->tiny_only = m->vae == NULL;
    in->multiple = up << ui->downsamples;
    d->info = *in;
    d->upscale = up;
    d->previews = m->tiny != NULL;
    return IMG_OK;
}

static int sd_load(const eng_load_opts_t *o, const st_file_t *f, kctx_t *kc, arena_t *arena,
                   void **fam, fam_desc_t *d, char *err, size_t errlen) {
    sd_t *m = calloc(1, sizeof *m); /* owned by *fam, or freed below */
    if (!m) {
        snprintf(err, errlen, "out of memory loading the model");
        return IMG_ENOMEM;
    }
    m->vae_tile = o->vae_tile;
    m->vae_tile_overlap = o->vae_tile_overlap;
    m->prediction = o->prediction;
    st_file_t *vf = NULL;
    int rc = load_tiny(o, m, err, errlen);
    if (!rc && o->vae && *o->vae) rc = st_open(o->vae, &vf, err, errlen);
    if (!rc && vf) { /* a VAE file in diffusers' layout is read under the LDM names */
        st_file_t *view = NULL;
        rc = diffusers_vae_view(vf, &view, err, errlen);
        if (view) vf = view;
        else if (rc) vf = NULL; /* taken over and closed */
    }
    if (!rc) rc = tok_load(o->tokenizer, &m->tok, err, errlen);
    int wflags = (kc->bf16 ? W_BF16 : 0) |
                 (o->weights_q8 || (o->weights_auto && st_has_blocks(f)) ? W_Q8 : 0);
    if (!rc) rc = unet_load(f, wflags, &m->unet, err, errlen);
    if (!rc) rc = load_vae(f, vf, wflags, m, err, errlen);
    if (!rc) {
        unet_use_arena(m->unet, arena);
        if (m->vae) vae_use_arena(m->vae, arena);
        if (m->enc) vae_encoder_use_arena(m->enc, arena);
        rc = describe(f, m, d, err, errlen);
    }
    if (!rc) rc = load_text(f, wflags, unet_info(m->unet), m, err, errlen);
    if (!rc && o->embeddings_dir && *o->embeddings_dir) {
        int widths[TI_MAX_ENCODERS], skipped;
        for (int i = 0; i < m->nte; i++) widths[i] = clip_info(m->te[i])->width;
        rc = ti_load_dir(o->embeddings_dir, widths, m->nte, &m->ti, &skipped, err, errlen);
    }
    if (!rc && m->tiny &&
        ((m->vae && tiny_vae_upscale(m->tiny) != vae_upscale(m->vae)) ||
         tiny_vae_latent_channels(m->tiny) != m->info.latent_channels)) {
        snprintf(err, errlen, "the tiny decoder does not match the model's latent space");
        rc = IMG_EFORMAT;
    }
    schedule_init(&m->sched, 0.00085, 0.012);
    st_close(vf);
    if (rc) {
        sd_free(m);
        return rc;
    }
    *fam = m;
    return IMG_OK;
}

static int sd_count_tokens(void *fam, const char *prompt) {
    sd_t *m = fam;
    int32_t *ids;
    size_t n;
    if (tok_encode(m->tok, prompt, &ids, &n)) return 0;
    free(ids);
    return (int)n;
}

/* ---- conditioning ---- */

/* context [ctx_len, ctx_dim] and, for SDXL, the pooled vector [proj] of one prompt. */
static int encode(sd_t *m, kctx_t *kc, const char *prompt, float *ctx, float *pooled,
                  float *scratch) {
    int32_t *ids;
    size_t n;
    float *extra[TI_MAX_ENCODERS] = {NULL, NULL}; /* embeddings' vectors the prompt names */
    int nextra = 0, widths[TI_MAX_ENCODERS] = {0, 0};
    for (int e = 0; e < m->nte && e < TI_MAX_ENCODERS; e++) widths[e] = clip_info(m->te[e])->width;
    int rc = m->ti.n ? ti_encode(&m->ti, m->tok, prompt, m->nte, widths, &ids, &n, extra, &nextra)
                     : tok_encode(m->tok, prompt, &ids, &n);
    if (rc) return rc;
    int T = m->ctx_len, off = 0;
    for (int e = 0; e < m->nte && !rc; e++) {
        const clip_info_t *I = clip_info(m->te[e]);
        int32_t tokens[TOK_CONTEXT];
        /* HF-layout CLIP (SD1, SDXL's CLIP-L) pads with EOT; OpenCLIP pads with 0 */
        tok_context_len(m->tok, ids, n, I->layout == CLIP_LAYOUT_HF ? tok_eot(m->tok) : 0,
                        I->context, tokens);
        clip_out_t o = {0};
        float *dst = scratch;
        if (m->info.family == 0)
            o.last = dst;
        else if (m->info.family == 1)
            o.penultimate_ln = dst;
        else
            o.penultimate = dst;
        if (e == 1 && pooled) o.pooled_proj = pooled;
        rc = clip_forward_ext(m->te[e], kc, tokens, extra[e], nextra, &o);
        for (int t = 0; t < T && !rc; t++)
            memcpy(ctx + (size_t)t * m->ctx_dim + off, dst + (size_t)t * I->width,
                   sizeof(float) * (size_t)I->width);
        off += I->width;
    }
    free(ids);
    free(extra[0]);
    free(extra[1]);
    return rc;
}

/* SDXL's vector: pooled bigG text, then (orig h, orig w), (crop top, crop left), (target h, target
 * w), each scalar as a 256-wide sinusoidal embedding. */
static void sdxl_vector(const float *pooled, int proj, int h, int w, float *y) {
    memcpy(y, pooled, sizeof(float) * (size_t)proj);
    float vals[6] = {(float)h, (float)w, 0.f, 0.f, (float)h, (float)w};
    for (int i = 0; i < 6; i++)
        op_timestep_embedding(&vals[i], 1, 256, 10000.f, y + proj + i * 256);
}

static void sd_end(void *job) {
    sd_job_t *j = job;
    if (!j) return;
    free(j->mem);
    free(j);
}

static int sd_begin(void *fam, kctx_t *kc, const fam_request_t *r, void **job) {
    sd_t *m = fam;
    int up = m->upscale;
    int lh = r->height / up, lw = r->width / up;
    size_t n = (size_t)m->info.latent_channels * lh * lw, hw = (size_t)lh * lw;
    int proj = m->nte == 2 ? clip_info(m->te[1])->proj_dim : 0;
    size_t ctxn = (size_t)m->ctx_len * m->ctx_dim, maxw = 0;
    for (int e = 0; e < m->nte; e++) {
        size_t w = (size_t)clip_info(m->te[e])->width;
        maxw = maxw > w ? maxw : w;
    }
    size_t xin = m->info.inpaint_unet ? 2 * n + hw : n;
    sd_job_t *j = calloc(1, sizeof *j); /* owned by *job, freed by sd_end */
    float *mem = malloc(sizeof(float) * (2 * ctxn + (size_t)m->ctx_len * maxw + 2 * (size_t)proj +
                                         2 * (size_t)(proj + 1536) + xin + 2 * n));
    if (!j || !mem) {
        free(j);
        free(mem);
        return IMG_ENOMEM;
    }
    j->mem = mem;
    j->lh = lh;
    j->lw = lw;
    j->guided = r->guided;
    j->guidance = r->guidance;
    j->ctx_c = mem;
    j->ctx_u = j->ctx_c + ctxn;
    float *enc = j->ctx_u + ctxn, *pool_c = enc + (size_t)m->ctx_len * maxw,
          *pool_u = pool_c + proj;
    float *y = pool_u + proj;
    j->y_c = proj ? y : NULL;
    j->y_u = proj ? y + proj + 1536 : NULL;
    j->xin = y + 2 * (size_t)(proj + 1536);
    j->eps_c = j->xin + xin;
    j->eps_u = j->eps_c + n;
    int rc = encode(m, kc, r->prompt, j->ctx_c, proj ? pool_c : NULL, enc);
    if (!rc && r->guided) {
        if (m->info.family == 2 && !*r->negative) { /* SDXL: an empty negative prompt is zeros */
            memset(j->ctx_u, 0, sizeof(float) * ctxn);
            memset(pool_u, 0, sizeof(float) * (size_t)proj);
        } else {
            rc = encode(m, kc, r->negative, j->ctx_u, proj ? pool_u : NULL, enc);
        }
    }
    if (!rc && proj) {
        sdxl_vector(pool_c, proj, r->height, r->width, j->y_c);
        sdxl_vector(pool_u, proj, r->height, r->width, j->y_u);
    }
    if (rc) {
        sd_end(j);
        return rc;
    }
    *job = j;
    return IMG_OK;
}

/* ---- sampling ---- */

static void sd_sigmas(void *fam, void *job, int steps, eng_schedule_t kind, float *sigmas) {
    (void)job;
    sd_t *m = fam;
    if (kind == ENG_SCHED_KARRAS)
        schedule_karras(steps, m->sched.sigmas[0], m->sched.sigmas[SCHED_T - 1], 7.0, sigmas);
    else if (kind == ENG_SCHED_TRAILING)
        schedule_trailing(&m->sched, steps, sigmas);
    else
        schedule_discrete(&m->sched, steps, sigmas);
}

/* k-diffusion's variance-exploding view of the DDPM: x = z0 + sigma * noise. */
static void sd_noised(const float *z0, const float *noise, float sigma, size_t n, float *x) {
    for (size_t k = 0; k < n; k++)
        x[k] = (z0 ? z0[k] : 0.f) + noise[k] * sigma;
}

static int sd_denoise(void *fam, kctx_t *kc, void *job, const float *x, float sigma,
                      const fam_edit_t *edit, float *den) {
    sd_t *m = fam;
    sd_job_t *d = job;
    size_t n = (size_t)m->info.latent_channels * d->lh * d->lw;
    float c_in = 1.f / sqrtf(sigma * sigma + 1.f);
    float t = schedule_sigma_to_t(&m->sched, sigma);
    for (size_t k = 0; k < n; k++)
        d->xin[k] = x[k] * c_in;
    if (m->info.inpaint_unet) { /* c_concat: x, then the mask, then the masked image's latent */
        if (!edit || !edit->mask_lat || !edit->masked_lat) return IMG_EINVAL;
        size_t hw = (size_t)d->lh * d->lw;
        memcpy(d->xin + n, edit->mask_lat, sizeof(float) * hw);
        memcpy(d->xin + n + hw, edit->masked_lat, sizeof(float) * n);
    }
    int rc = unet_forward(m->unet, kc, d->xin, d->lh, d->lw, t, d->ctx_c, m->ctx_len, d->y_c,
                          d->eps_c, NULL, NULL);
    if (!rc && d->guided)
        rc = unet_forward(m->unet, kc, d->xin, d->lh, d->lw, t, d->ctx_u, m->ctx_len, d->y_u,
                          d->eps_u, NULL, NULL);
    if (rc) return rc;
    if (d->guided)
        for (size_t k = 0; k < n; k++)
            d->eps_c[k] = d->eps_u[k] + d->guidance * (d->eps_c[k] - d->eps_u[k]);
    if (m->prediction == ENG_PRED_V) {
        float s2 = sigma * sigma + 1.f;
        float c_skip = 1.f / s2, c_out = -sigma / sqrtf(s2);
        for (size_t k = 0; k < n; k++)
            den[k] = d->eps_c[k] * c_out + x[k] * c_skip;
    } else {
        for (size_t k = 0; k < n; k++)
            den[k] = x[k] - sigma * d->eps_c[k];
    }
    return IMG_OK;
}

/* ---- images ---- */

static int sd_decode(void *fam, kctx_t *kc, float *x, int lh, int lw, int fast, float *rgb,
                     int *zero_to_one) {
    sd_t *m = fam;
    *zero_to_one = m->tiny && (fast || !m->vae);
    if (*zero_to_one) return tiny_vae_decode(m->tiny, kc, x, lh, lw, rgb); /* RGB in [0, 1] */
    size_t n = (size_t)m->info.latent_channels * lh * lw;
    for (size_t k = 0; k < n; k++)
        x[k] /= m->info.vae_scale;
    /* RGB in [-1, 1]; tiled when the latent is larger than vae_tile a side */
    return vae_decode_tiled(m->vae, kc, x, lh, lw, m->vae_tile, m->vae_tile_overlap, rgb);
}

/* scale * mean of the KL encoding, or the tiny encoder's diffusion-space latent (which takes
 * [0, 1]: img is rescaled in place). */
static int sd_encode_image(void *fam, kctx_t *kc, float *img, int H, int W, float *z) {
    sd_t *m = fam;
    int up = m->upscale;
    size_t n = (size_t)m->info.latent_channels * (H / up) * (W / up);
    if (m->enc) { /* in tiles when the latent is larger than vae_tile a side */
        float *mom = malloc(sizeof(float) * 2 * n);
        if (!mom) return IMG_ENOMEM;
        int rc = vae_encode_tiled(m->enc, kc, img, H, W, m->vae_tile, m->vae_tile_overlap, mom);
        if (!rc) vae_moments_to_latent(mom, n, NULL, m->info.vae_scale, NULL, NULL, NULL, z);
        free(mom);
        return rc;
    }
    if (!m->tiny_enc) return IMG_EUNSUPPORTED;
    for (size_t i = 0; i < (size_t)3 * W * H; i++)
        img[i] = (img[i] + 1.f) * 0.5f;
    return tiny_vae_encode(m->tiny_enc, kc, img, H, W, z);
}

static int sd_preview(void *fam, kctx_t *kc, const float *den, int lh, int lw, float *rgb) {
    sd_t *m = fam;
    return m->tiny ? tiny_vae_decode(m->tiny, kc, den, lh, lw, rgb) : IMG_EUNSUPPORTED;
}

const fam_ops_t SD_FAMILY = {
    .name = "stable-diffusion",
    .probe = sd_probe,
    .probe_native = sd_probe_native,
    .probe_edit = sd_probe_edit,
    .load = sd_load,
    .free = sd_free,
    .count_tokens = sd_count_tokens,
    .begin = sd_begin,
    .end = sd_end,
    .sigmas = sd_sigmas,
    .noised = sd_noised,
    .denoise = sd_denoise,
    .decode = sd_decode,
    .encode_image = sd_encode_image,
    .preview = sd_preview,
};
