/* pipeline.c - text to image: prompt -> tokens -> text embedding -> sampling with classifier-
 * free guidance -> VAE decode -> RGB. The family decides which encoder layers feed the UNet:
 * SD1 the last CLIP-L layer, SD2 OpenCLIP's penultimate layer after ln_final, SDXL the two
 * penultimate layers side by side plus the pooled bigG vector and size conditioning. */
#include "engine/engine.h"
#include "common/clock.h"
#include "common/status.h"
#include "engine/io/safetensors.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/ops.h"
#include "engine/models/clip.h"
#include "engine/models/unet.h"
#include "engine/models/tiny_vae.h"
#include "engine/models/vae.h"
#include "engine/models/vae_encoder.h"
#include "engine/runtime/engine_ctx.h"
#include "engine/sampling/rng.h"
#include "engine/sampling/sampler.h"
#include "engine/sampling/schedule.h"
#include "engine/text/tokenizer.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct eng_model {
    eng_info_t info;
    eng_prediction_t prediction;
    kctx_t kc;
    tokenizer_t *tok;
    clip_t *te[2]; /* SD1/SD2: te[0]; SDXL: CLIP-L, bigG */
    int nte;
    unet_t *unet;
    vae_t *vae;
    vae_encoder_t *enc; /* NULL when the VAE file has no encoder */
    tiny_vae_t *tiny;
    tiny_vae_t *tiny_enc; /* used when enc is NULL; neither: no edits */
    arena_t arena; /* work memory the UNet and then the decoder borrow (arena.h) */
    schedule_t sched;
    int ctx_dim, ctx_len;
    int vae_tile, vae_tile_overlap;
    eng_stats_t stats;
    unsigned long long flops;
    double mark;
};

void eng_last_stats(const eng_model_t *m, eng_stats_t *out) { *out = m->stats; }

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

int eng_probe_native(const char *checkpoint, int *native, int *multiple, char *err, size_t errlen) {
    st_file_t *f;
    int rc = st_open(checkpoint, &f, err, errlen);
    if (rc) return rc;
    *native = native_of(f);
    int downs = 0; /* every UNet Downsample is an input block's "op" convolution */
    for (size_t i = 0; i < st_count(f); i++) {
        const char *n = st_get(f, i)->name, *ib = strstr(n, "input_blocks.");
        size_t l = strlen(n);
        downs += ib && l > 12 && strcmp(n + l - 12, ".0.op.weight") == 0;
    }
    *multiple = 8 << downs; /* every SD family's latent is 1/8 of the image side */
    st_close(f);
    return IMG_OK;
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

int eng_probe_edit(const char *checkpoint, const char *vae, const char *tiny_encoder,
                   const char *tiny_decoder, int *can_edit, int *inpaint) {
    *can_edit = *inpaint = 0;
    char err[256];
    st_file_t *f, *vf = NULL;
    int rc = st_open(checkpoint, &f, err, sizeof err);
    if (rc) return rc;
    if (vae && *vae && st_open(vae, &vf, err, sizeof err)) vf = NULL;
    *can_edit = has_tiny_encoder(tiny_encoder && *tiny_encoder ? tiny_encoder : tiny_decoder);
    const st_file_t *v = vf ? vf : f;
    static const char ENC[] = "encoder.conv_in.weight", IN0[] = "input_blocks.0.0.weight";
    for (size_t i = 0; i < st_count(v) && !*can_edit; i++) {
        const char *n = st_get(v, i)->name;
        size_t l = strlen(n), e = sizeof ENC - 1;
        *can_edit = l >= e && !strcmp(n + l - e, ENC) && (l == e || n[l - e - 1] == '.');
    }
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor_t *t = st_get(f, i);
        size_t l = strlen(t->name), e = sizeof IN0 - 1;
        if (l >= e && !strcmp(t->name + l - e, IN0) && t->ndim == 4) *inpaint = t->shape[1] == 9;
    }
    st_close(vf);
    st_close(f);
    return IMG_OK;
}

void eng_free(eng_model_t *m) {
    if (!m) return;
    tok_free(m->tok);
    for (int i = 0; i < m->nte; i++) clip_free(m->te[i]);
    unet_free(m->unet);
    vae_free(m->vae);
    vae_encoder_free(m->enc);
    tiny_vae_free(m->tiny);
    tiny_vae_free(m->tiny_enc);
    arena_free(&m->arena);
    kctx_destroy(&m->kc);
    free(m);
}

const eng_info_t *eng_info(const eng_model_t *m) { return &m->info; }

int eng_has_previews(const eng_model_t *m) { return m->tiny != NULL; }

/* RGB floats (planar, range [lo, lo + 2*half]) -> 8-bit interleaved image. */
static void to_rgb8(const float *rgb, int w, int h, int zero_to_one, uint8_t *px) {
    size_t plane = (size_t)w * h;
    for (size_t q = 0; q < plane; q++)
        for (int c = 0; c < 3; c++) {
            float v = zero_to_one ? rgb[c * plane + q] : (rgb[c * plane + q] + 1.f) * 0.5f;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            px[q * 3 + c] = (uint8_t)lrintf(v * 255.f);
        }
}

int eng_load(const eng_load_opts_t *o, eng_model_t **out, char *err, size_t errlen) {
    if (o->vae_tile > 0 && o->vae_tile_overlap * 2 >= o->vae_tile) {
        snprintf(err, errlen, "vae_tile_overlap (%d) must be under half of vae_tile (%d)",
                 o->vae_tile_overlap, o->vae_tile);
        return IMG_EINVAL;
    }
    if (errlen) err[0] = 0;
    eng_model_t *m = calloc(1, sizeof *m); /* owned by *out, or freed below */
    if (!m) {
        snprintf(err, errlen, "out of memory loading the model");
        return IMG_ENOMEM;
    }
    m->vae_tile = o->vae_tile;
    m->vae_tile_overlap = o->vae_tile_overlap;
    st_file_t *f = NULL, *vf = NULL, *tf = NULL, *ef = NULL;
    st_progress_t prog = {o->progress, o->progress_user, 0, 0};
    int rc = st_open(o->checkpoint, &f, err, errlen);
    if (!rc && o->progress) st_track(f, &prog);
    if (!rc && o->tiny_decoder && *o->tiny_decoder) {
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
    if (!rc && o->vae && *o->vae) rc = st_open(o->vae, &vf, err, errlen);
    if (!rc) rc = kctx_create(o->threads, o->isa, o->precision, &m->kc, err, errlen);
    m->kc.flops = &m->flops;
    if (!rc) rc = tok_load(o->tokenizer, &m->tok, err, errlen);
    if (!rc) rc = unet_load(f, m->kc.bf16, &m->unet, err, errlen);
    if (!rc) {
        /* a model may come with only a tiny decoder (imgapi's built-in model does) */
        char verr[256];
        int vrc = vae_load(vf ? vf : f, m->kc.bf16, &m->vae, verr, sizeof verr);
        if (vrc && (vf || vrc != IMG_ENOTFOUND || !m->tiny)) {
            snprintf(err, errlen, "%s", verr);
            rc = vrc;
        }
        /* the encoder (edits) is optional: decoder-only VAE files exist */
        if (!rc && m->vae) {
            int erc = vae_encoder_load(vf ? vf : f, m->kc.bf16, &m->enc, verr, sizeof verr);
            if (erc && erc != IMG_ENOTFOUND) {
                snprintf(err, errlen, "%s", verr);
                rc = erc;
            }
        }
    }
    if (!rc) {
        unet_use_arena(m->unet, &m->arena);
        if (m->vae) vae_use_arena(m->vae, &m->arena);
        if (m->enc) vae_encoder_use_arena(m->enc, &m->arena);
    }
    if (!rc) {
        const unet_info_t *ui = unet_info(m->unet);
        m->info.family = (int)ui->family;
        m->info.latent_channels = ui->out_ch;
        m->info.inpaint_unet = ui->in_ch == 2 * ui->out_ch + 1;
        if (m->enc && vae_encoder_latent_channels(m->enc) != ui->out_ch) {
            vae_encoder_free(m->enc); /* another latent space: it cannot feed this UNet */
            m->enc = NULL;
        }
        if (m->tiny_enc && (tiny_vae_latent_channels(m->tiny_enc) != ui->out_ch ||
                            tiny_vae_downscale(m->tiny_enc) !=
                                (m->vae ? vae_upscale(m->vae) : tiny_vae_upscale(m->tiny)))) {
            snprintf(err, errlen, "the tiny encoder does not match the model's latent space");
            rc = IMG_EFORMAT;
        }
        m->info.can_edit = m->enc != NULL || m->tiny_enc != NULL;
        if (ui->in_ch != ui->out_ch && !m->info.inpaint_unet) {
            snprintf(err, errlen, "a UNet with %d input and %d output channels is not supported",
                     ui->in_ch, ui->out_ch);
            rc = IMG_EFORMAT;
        }
        if (!rc && m->info.inpaint_unet && !m->info.can_edit) {
            snprintf(err, errlen, "an inpainting UNet needs a VAE with an encoder");
            rc = IMG_EFORMAT;
        }
        m->info.vae_scale = ui->family == UNET_SDXL ? 0.13025f : 0.18215f;
        m->info.native = native_of(f);
        m->info.tiny_only = m->vae == NULL;
        gemm_dp_kernel_t dk = gemm_dp_kernel(&m->kc); /* what gemm will run the pairs on */
        m->info.products = !m->kc.bf16                 ? ENG_PRODUCTS_F32
                           : dk == GEMM_DP_AMX         ? ENG_PRODUCTS_BF16_AMX
                           : dk == GEMM_DP_AVX512_BF16 ? ENG_PRODUCTS_BF16_AVX512
                                                       : ENG_PRODUCTS_BF16_C;
        m->info.multiple = (m->vae ? vae_upscale(m->vae) : tiny_vae_upscale(m->tiny)) << ui->downsamples;
        m->prediction = o->prediction;
        char prefixes[4][160];
        clip_layout_t layouts[4];
        int n = clip_find(f, prefixes, layouts, 4);
        int want = ui->family == UNET_SDXL ? 2 : 1;
        if (n < want) {
            snprintf(err, errlen, "the checkpoint lacks its text encoder%s", want == 2 ? "s" : "");
            rc = IMG_EFORMAT;
        }
        for (int i = 0; i < want && !rc; i++) {
            /* SDXL: CLIP-L (HF layout) first, then bigG (OpenCLIP layout) */
            int pick = i;
            if (want == 2)
                for (int k = 0; k < n; k++)
                    if ((int)layouts[k] == (i == 0 ? CLIP_LAYOUT_HF : CLIP_LAYOUT_OPENCLIP)) pick = k;
            rc = clip_load(f, prefixes[pick], m->kc.bf16, &m->te[i], err, errlen);
            if (!rc) m->nte++;
        }
        if (!rc) {
            m->ctx_len = clip_info(m->te[0])->context;
            for (int i = 0; i < m->nte; i++) m->ctx_dim += clip_info(m->te[i])->width;
            if (m->ctx_dim != ui->ctx_dim) {
                snprintf(err, errlen, "text encoder width %d does not match the UNet's context %d", m->ctx_dim, ui->ctx_dim);
                rc = IMG_EFORMAT;
            }
            if (!rc && ui->family == UNET_SDXL) {
                int pooled = clip_info(m->te[1])->proj_dim;
                if (pooled + 6 * 256 != ui->adm_in) {
                    snprintf(err, errlen, "SDXL conditioning width %d does not match pooled %d + 1536", ui->adm_in, pooled);
                    rc = IMG_EFORMAT;
                }
            }
        }
        schedule_init(&m->sched, 0.00085, 0.012);
    }
    if (!rc && m->tiny && ((m->vae && tiny_vae_upscale(m->tiny) != vae_upscale(m->vae)) ||
                           tiny_vae_latent_channels(m->tiny) != m->info.latent_channels)) {
        snprintf(err, errlen, "the tiny decoder does not match the model's latent space");
        rc = IMG_EFORMAT;
    }
    st_close(f); /* weights were copied and packed */
    st_close(vf);
    st_close(tf);
    st_close(ef);
    if (rc) {
        if (rc == IMG_ENOMEM && errlen && !err[0]) snprintf(err, errlen, "out of memory loading the model");
        eng_free(m);
        return rc;
    }
    if (o->progress) o->progress(o->progress_user, 1.0);
    *out = m;
    return IMG_OK;
}

int eng_count_tokens(eng_model_t *m, const char *prompt) {
    int32_t *ids;
    size_t n;
    if (tok_encode(m->tok, prompt, &ids, &n)) return 0;
    free(ids);
    return (int)n;
}

/* ---- conditioning ---- */

/* context [ctx_len, ctx_dim] and, for SDXL, the pooled vector [proj] of one prompt. */
static int encode(eng_model_t *m, const char *prompt, float *ctx, float *pooled, float *scratch) {
    int32_t *ids;
    size_t n;
    int rc = tok_encode(m->tok, prompt, &ids, &n);
    if (rc) return rc;
    int T = m->ctx_len, off = 0;
    for (int e = 0; e < m->nte && !rc; e++) {
        const clip_info_t *I = clip_info(m->te[e]);
        int32_t tokens[TOK_CONTEXT];
        /* HF-layout CLIP (SD1, SDXL's CLIP-L) pads with EOT; OpenCLIP pads with 0 */
        tok_context_len(m->tok, ids, n, I->layout == CLIP_LAYOUT_HF ? tok_eot(m->tok) : 0, I->context, tokens);
        clip_out_t o = {0};
        float *dst = scratch;
        if (m->info.family == 0) o.last = dst;
        else if (m->info.family == 1) o.penultimate_ln = dst;
        else o.penultimate = dst;
        if (e == 1 && pooled) o.pooled_proj = pooled;
        rc = clip_forward(m->te[e], &m->kc, tokens, &o);
        for (int t = 0; t < T && !rc; t++)
            memcpy(ctx + (size_t)t * m->ctx_dim + off, dst + (size_t)t * I->width, sizeof(float) * (size_t)I->width);
        off += I->width;
    }
    free(ids);
    return rc;
}

/* SDXL's vector: pooled bigG text, then (orig h, orig w), (crop top, crop left), (target h, target
 * w), each scalar as a 256-wide sinusoidal embedding. */
static void sdxl_vector(const float *pooled, int proj, int h, int w, float *y) {
    memcpy(y, pooled, sizeof(float) * (size_t)proj);
    float vals[6] = {(float)h, (float)w, 0.f, 0.f, (float)h, (float)w};
    for (int i = 0; i < 6; i++) op_timestep_embedding(&vals[i], 1, 256, 10000.f, y + proj + i * 256);
}

typedef struct {
    eng_model_t *m;
    int lh, lw, guided;
    const float *ctx_c, *ctx_u, *y_c, *y_u;
    float *xin, *eps_c, *eps_u;
    rng_t *rng;
    eng_progress_fn progress;
    void *user;
    img_t *preview;      /* NULL unless previews were asked for and possible */
    float *preview_rgb;  /* planar scratch for it */
    /* edits: the image's latent, the latent mask (1 = repaint), the masked image's latent (for a
     * 9-channel UNet), and whether the prediction outside the mask is held to z0 */
    const float *z0, *mask_lat, *masked_lat;
    int blend;
} denoise_ctx_t;

typedef struct {
    denoise_ctx_t d;
    float guidance;
} run_ctx_t;

static int run_denoise(void *user, const float *x, float sigma, float *den) {
    run_ctx_t *r = user;
    denoise_ctx_t *d = &r->d;
    eng_model_t *m = d->m;
    size_t n = (size_t)m->info.latent_channels * d->lh * d->lw;
    float c_in = 1.f / sqrtf(sigma * sigma + 1.f);
    float t = schedule_sigma_to_t(&m->sched, sigma);
    for (size_t k = 0; k < n; k++) d->xin[k] = x[k] * c_in;
    if (m->info.inpaint_unet) { /* c_concat: x, then the mask, then the masked image's latent */
        size_t hw = (size_t)d->lh * d->lw;
        memcpy(d->xin + n, d->mask_lat, sizeof(float) * hw);
        memcpy(d->xin + n + hw, d->masked_lat, sizeof(float) * n);
    }
    int rc = unet_forward(m->unet, &m->kc, d->xin, d->lh, d->lw, t, d->ctx_c, m->ctx_len, d->y_c, d->eps_c, NULL, NULL);
    if (!rc && d->guided)
        rc = unet_forward(m->unet, &m->kc, d->xin, d->lh, d->lw, t, d->ctx_u, m->ctx_len, d->y_u, d->eps_u, NULL, NULL);
    if (rc) return rc;
    if (d->guided)
        for (size_t k = 0; k < n; k++) d->eps_c[k] = d->eps_u[k] + r->guidance * (d->eps_c[k] - d->eps_u[k]);
    if (m->prediction == ENG_PRED_V) {
        float s2 = sigma * sigma + 1.f;
        float c_skip = 1.f / s2, c_out = -sigma / sqrtf(s2);
        for (size_t k = 0; k < n; k++) den[k] = d->eps_c[k] * c_out + x[k] * c_skip;
    } else {
        for (size_t k = 0; k < n; k++) den[k] = x[k] - sigma * d->eps_c[k];
    }
    if (d->blend) { /* outside the mask the image is known: its latent is the prediction */
        size_t hw = (size_t)d->lh * d->lw;
        for (size_t k = 0; k < n; k++) {
            float mk = d->mask_lat[k % hw];
            den[k] = mk * den[k] + (1.f - mk) * d->z0[k];
        }
    }
    return 0;
}

/* The latent of img ([3, H, W] in [-1, 1]; overwritten with a tiny encoder, which takes [0, 1]):
 * scale * mean of the KL encoding, or the tiny encoder's diffusion-space latent. mom: 2n floats. */
static int encode_image(eng_model_t *m, float *img, int H, int W, float *mom, size_t n, float *z) {
    if (m->enc) { /* in tiles when the latent is larger than vae_tile a side */
        int rc = vae_encode_tiled(m->enc, &m->kc, img, H, W, m->vae_tile, m->vae_tile_overlap, mom);
        if (!rc) vae_moments_to_latent(mom, n, NULL, m->info.vae_scale, NULL, NULL, NULL, z);
        return rc;
    }
    for (size_t i = 0; i < (size_t)3 * W * H; i++) img[i] = (img[i] + 1.f) * 0.5f;
    return tiny_vae_encode(m->tiny_enc, &m->kc, img, H, W, z);
}

/* An edit's latents: z0, the image's latent (encode_image); with a mask, the latent mask
 * (for a 9-channel UNet the nearest sample of the thresholded mask, as the reference builds it;
 * for blending, any latent pixel whose 8x8 block touches the mask) and, for a 9-channel UNet,
 * the latent of the image with the masked area zeroed. */
static int edit_latents(eng_model_t *m, const eng_params_t *p, int W, int H, int lh, int lw,
                        float *z0, float *mask_lat, float *masked_lat) {
    int C = m->info.latent_channels;
    size_t HW = (size_t)W * H, n = (size_t)C * lh * lw;
    float *img = malloc(sizeof(float) * 3 * HW), *mom = malloc(sizeof(float) * 2 * n);
    int rc = img && mom ? IMG_OK : IMG_ENOMEM;
    const uint8_t *px = p->init_image->pixels;
    int ch = p->init_image->channels;
    for (size_t i = 0; !rc && i < HW; i++)
        for (int c = 0; c < 3; c++) img[c * HW + i] = px[i * ch + (ch >= 3 ? c : 0)] / 127.5f - 1.f;
    if (!rc) rc = encode_image(m, img, H, W, mom, n, z0);
    if (!rc && p->mask) {
        int up = H / lh;
        for (int y = 0; y < lh; y++)
            for (int x = 0; x < lw; x++) {
                float v = 0;
                if (m->info.inpaint_unet) {
                    v = p->mask[(size_t)(y * H / lh) * W + (size_t)(x * W / lw)] ? 1.f : 0.f;
                } else {
                    for (int dy = 0; dy < up && !v; dy++)
                        for (int dx = 0; dx < up && !v; dx++)
                            v = p->mask[(size_t)(y * up + dy) * W + (size_t)(x * up + dx)] ? 1.f : 0.f;
                }
                mask_lat[(size_t)y * lw + x] = v;
            }
        if (m->info.inpaint_unet) {
            for (size_t i = 0; i < HW; i++)
                for (int c = 0; c < 3; c++)
                    img[c * HW + i] = p->mask[i] ? 0.f : px[i * ch + (ch >= 3 ? c : 0)] / 127.5f - 1.f;
            rc = encode_image(m, img, H, W, mom, n, masked_lat);
        }
    }
    free(img);
    free(mom);
    return rc;
}

static void run_noise(void *user, int step, float *out, size_t n) {
    (void)step;
    run_ctx_t *r = user;
    rng_randn(r->d.rng, out, n);
}

static int run_step(void *user, int step, int steps, const float *x, const float *den) {
    (void)x;
    (void)den;
    run_ctx_t *r = user;
    eng_model_t *m = r->d.m;
    double now = clock_mono();
    if (step < ENG_MAX_STAT_STEPS) m->stats.step_s[step] = now - m->mark;
    m->stats.steps = step + 1;
    const img_t *pv = NULL;
    if (r->d.preview && tiny_vae_decode(m->tiny, &m->kc, den, r->d.lh, r->d.lw, r->d.preview_rgb) == IMG_OK) {
        to_rgb8(r->d.preview_rgb, r->d.preview->width, r->d.preview->height, 1, r->d.preview->pixels);
        pv = r->d.preview;
    }
    int stop = r->d.progress && r->d.progress(r->d.user, step + 1, steps, pv);
    m->mark = clock_mono(); /* preview time is not charged to the next step */
    return stop ? IMG_ECANCELLED : 0;
}

int eng_generate(eng_model_t *m, const eng_params_t *p, eng_progress_fn progress, void *user,
                 img_t *out) {
    int up = m->vae ? vae_upscale(m->vae) : tiny_vae_upscale(m->tiny);
    int mult = m->info.multiple; /* latent sizes must halve as often as the UNet downsamples */
    int W = p->width / mult * mult, H = p->height / mult * mult;
    if (W < mult || H < mult || p->steps < 1 || p->steps > 1000 || !p->prompt) return IMG_EINVAL;
    int edit = p->init_image != NULL;
    if (edit && (!m->info.can_edit || p->init_image->width != W || p->init_image->height != H ||
                 !(p->strength > 0.f && p->strength <= 1.f)))
        return IMG_EINVAL;
    if (!edit && m->info.inpaint_unet) return IMG_EUNSUPPORTED; /* it needs an image and mask */
    int lh = H / up, lw = W / up, C = m->info.latent_channels;
    size_t n = (size_t)C * lh * lw;
    int guided = p->guidance > 1.f;
    int proj = m->nte == 2 ? clip_info(m->te[1])->proj_dim : 0;
    size_t ctxn = (size_t)m->ctx_len * m->ctx_dim;
    size_t maxw = 0;
    for (int e = 0; e < m->nte; e++) maxw = maxw > (size_t)clip_info(m->te[e])->width ? maxw : (size_t)clip_info(m->te[e])->width;
    size_t total = 2 * ctxn + (size_t)m->ctx_len * maxw + 2 * (size_t)(proj + 1536 + proj) + 7 * n + 3 * (size_t)H * W;
    float *mem = malloc(sizeof(float) * total);
    /* edits: z0, the masked image's latent, the latent mask, and the 9-channel UNet input */
    size_t hw = (size_t)lh * lw;
    float *ebuf = edit ? malloc(sizeof(float) * (4 * n + 2 * hw)) : NULL;
    if (!mem || (edit && !ebuf)) {
        free(mem);
        free(ebuf);
        return IMG_ENOMEM;
    }
    float *z0 = ebuf, *masked_lat = ebuf ? z0 + n : NULL, *mask_lat = ebuf ? masked_lat + n : NULL;
    float *xin9 = ebuf ? mask_lat + hw : NULL; /* n + hw + n floats from here (9-channel input) */
    float *ctx_c = mem, *ctx_u = ctx_c + ctxn, *enc = ctx_u + ctxn, *pool_c = enc + (size_t)m->ctx_len * maxw;
    float *pool_u = pool_c + proj, *y_c = pool_u + proj, *y_u = y_c + proj + 1536;
    float *x = y_u + proj + 1536, *work = x + n, *xin = work + 3 * n, *eps_c = xin + n, *eps_u = eps_c + n;
    float *rgb = eps_u + n;
    img_t preview = {0};
    int want_preview = p->previews && m->tiny && progress;
    if (want_preview && img_alloc(&preview, W, H, 3)) want_preview = 0;
    memset(&m->stats, 0, sizeof m->stats);
    m->stats.width = W;
    m->stats.height = H;
    double t_start = clock_mono();
    int32_t *tids;
    size_t ntids;
    if (tok_encode(m->tok, p->prompt, &tids, &ntids) == IMG_OK) free(tids);
    m->stats.tokenize_s = clock_mono() - t_start;
    m->flops = 0;
    double t_text = clock_mono();
    int rc = encode(m, p->prompt, ctx_c, proj ? pool_c : NULL, enc);
    const char *neg = p->negative_prompt ? p->negative_prompt : "";
    if (!rc && guided) {
        if (m->info.family == 2 && !*neg) { /* SDXL: an empty negative prompt is zeros */
            memset(ctx_u, 0, sizeof(float) * ctxn);
            memset(pool_u, 0, sizeof(float) * (size_t)proj);
        } else {
            rc = encode(m, neg, ctx_u, proj ? pool_u : NULL, enc);
        }
    }
    if (!rc && proj) {
        sdxl_vector(pool_c, proj, H, W, y_c);
        sdxl_vector(pool_u, proj, H, W, y_u);
    }
    m->stats.text_s = clock_mono() - t_text;
    m->stats.text_gflop = (double)m->flops / 1e9;
    m->flops = 0;
    if (!rc && edit) {
        double t_enc = clock_mono();
        if (!p->mask)
            for (size_t k = 0; k < hw; k++) mask_lat[k] = 1.f;
        rc = edit_latents(m, p, W, H, lh, lw, z0, mask_lat, masked_lat);
        m->stats.encode_s = clock_mono() - t_enc;
        m->stats.encode_gflop = (double)m->flops / 1e9;
        m->flops = 0;
    }
    float sigmas[1025];
    if (!rc) {
        int steps = p->steps;
        if (p->schedule == ENG_SCHED_KARRAS)
            schedule_karras(steps, m->sched.sigmas[0], m->sched.sigmas[SCHED_T - 1], 7.0, sigmas);
        else if (p->schedule == ENG_SCHED_TRAILING)
            schedule_trailing(&m->sched, steps, sigmas);
        else
            schedule_discrete(&m->sched, steps, sigmas);
        /* an edit runs the last part of the schedule from the image re-noised to its start; a
         * mask regenerates its area entirely (strength 1) */
        int start = 0;
        if (edit && !p->mask) {
            int run = (int)lroundf(p->strength * (float)steps);
            start = steps - (run < 1 ? 1 : run);
        }
        rng_t rng;
        rng_seed(&rng, p->seed);
        rng_randn(&rng, x, n);
        for (size_t k = 0; k < n; k++) x[k] = (edit ? z0[k] : 0.f) + x[k] * sigmas[start];
        run_ctx_t r = {.d = {m, lh, lw, guided, ctx_c, ctx_u, proj ? y_c : NULL, proj ? y_u : NULL,
                             m->info.inpaint_unet ? xin9 : xin, eps_c, eps_u, &rng, progress, user,
                             want_preview ? &preview : NULL, rgb, z0, mask_lat, masked_lat,
                             edit && p->mask && !m->info.inpaint_unet},
                       .guidance = p->guidance};
        sampler_io_t io = {run_denoise, run_noise, run_step, &r};
        m->mark = clock_mono();
        rc = sampler_run((sampler_kind_t)p->sampler, x, n, sigmas + start, steps - start, &io, work);
    }
    m->stats.steps_gflop = (double)m->flops / 1e9;
    m->flops = 0;
    double t_dec = clock_mono();
    int tiny = m->tiny && (p->fast_decode || !m->vae);
    if (!rc && tiny) {
        rc = tiny_vae_decode(m->tiny, &m->kc, x, lh, lw, rgb); /* RGB in [0, 1] */
    } else if (!rc) {
        for (size_t k = 0; k < n; k++) x[k] /= m->info.vae_scale;
        /* RGB in [-1, 1]; tiled when the latent is larger than vae_tile a side */
        rc = vae_decode_tiled(m->vae, &m->kc, x, lh, lw, m->vae_tile, m->vae_tile_overlap, rgb);
    }
    m->stats.decode_s = clock_mono() - t_dec;
    m->stats.decode_gflop = (double)m->flops / 1e9;
    m->stats.total_s = clock_mono() - t_start;
    if (!rc) rc = img_alloc(out, W, H, 3);
    if (!rc) to_rgb8(rgb, W, H, tiny, out->pixels);
    img_free(&preview);
    free(mem);
    free(ebuf);
    return rc;
}
