/* vae_encoder.c - the KL VAE encoder (see vae_encoder.h). Two ping-pong images and a scratch,
 * allocated per call for the image's size: the encoder runs once per edit, not per step. */
#include "engine/models/vae_encoder.h"
#include "common/status.h"
#include "engine/kernels/ops.h"
#include "engine/kernels/ops_mt.h"
#include "engine/models/blocks.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENC_MAX_LEVELS 8
#define ENC_MAX_BLOCKS 8

typedef struct {
    resblock_t block[ENC_MAX_BLOCKS];
    int nblocks;
    int has_down;
    conv2d_t down; /* 3x3, stride 2, no padding: the input is padded (0,1,0,1) first */
} enc_level_t;

struct vae_encoder {
    conv2d_t conv_in, conv_out, quant;
    int has_quant;
    resblock_t mid1, mid2;
    vae_attn_t attn;
    gnorm_t norm_out;
    enc_level_t level[ENC_MAX_LEVELS];
    int nlevels;
    arena_t *arena; /* a model's shared work memory (vae_encoder_use_arena), or NULL: malloc */
};

void vae_encoder_use_arena(vae_encoder_t *e, arena_t *shared) {
    e->arena = shared;
}

void vae_encoder_free(vae_encoder_t *e) {
    if (!e) return;
    conv2d_free(&e->conv_in);
    conv2d_free(&e->conv_out);
    if (e->has_quant) conv2d_free(&e->quant);
    resblock_free(&e->mid1);
    resblock_free(&e->mid2);
    vae_attn_free(&e->attn);
    gnorm_free(&e->norm_out);
    for (int l = 0; l < e->nlevels; l++) {
        for (int b = 0; b < e->level[l].nblocks; b++)
            resblock_free(&e->level[l].block[b]);
        if (e->level[l].has_down) conv2d_free(&e->level[l].down);
    }
    free(e);
}

int vae_encoder_load(const st_file_t *f, int wflags, vae_encoder_t **out, char *err, size_t errlen) {
    *out = NULL;
    static const char *const ROOTS[] = {"first_stage_model.", "vae.", ""};
    const char *root = NULL;
    char n[256];
    for (int i = 0; i < 3 && !root; i++) {
        snprintf(n, sizeof n, "%sencoder.conv_in.weight", ROOTS[i]);
        if (st_find(f, n)) root = ROOTS[i];
    }
    if (!root) {
        snprintf(err, errlen, "no VAE encoder (first_stage_model.encoder.*) in the file");
        return IMG_ENOTFOUND;
    }
    vae_encoder_t *e = calloc(1, sizeof *e);
    if (!e) return IMG_ENOMEM;
    wload_t wl = W_LOAD(f, wflags);
    snprintf(wl.prefix, sizeof wl.prefix, "%s", root);
    int rc = IMG_OK;
    /* LDM keeps quant_conv beside the encoder, FLUX.2's autoencoder inside it */
    const char *qc = w_has(&wl, "quant_conv.weight")           ? "quant_conv"
                     : w_has(&wl, "encoder.quant_conv.weight") ? "encoder.quant_conv"
                                                               : NULL;
    if (qc) {
        e->has_quant = 1;
        rc = conv_load(&wl, qc, 1, 0, &e->quant);
    }
    snprintf(wl.prefix, sizeof wl.prefix, "%sencoder.", root);
    if (!rc) rc = conv_load(&wl, "conv_in", 1, 1, &e->conv_in);
    while (!rc && e->nlevels < ENC_MAX_LEVELS &&
           w_has(&wl, (snprintf(n, sizeof n, "down.%d.block.0.conv1.weight", e->nlevels), n))) {
        enc_level_t *L = &e->level[e->nlevels];
        while (!rc && L->nblocks < ENC_MAX_BLOCKS &&
               w_has(&wl, (snprintf(n, sizeof n, "down.%d.block.%d.conv1.weight", e->nlevels,
                                    L->nblocks),
                           n))) {
            snprintf(n, sizeof n, "down.%d.block.%d.", e->nlevels, L->nblocks);
            rc = resblock_load(&wl, n, 0, 1e-6f, &L->block[L->nblocks]);
            L->nblocks++;
        }
        if (!rc &&
            w_has(&wl, (snprintf(n, sizeof n, "down.%d.downsample.conv.weight", e->nlevels), n))) {
            L->has_down = 1;
            snprintf(n, sizeof n, "down.%d.downsample.conv", e->nlevels);
            rc = conv_load(&wl, n, 2, 0, &L->down);
        }
        e->nlevels++;
    }
    if (!rc && e->nlevels == 0) rc = IMG_EFORMAT;
    if (!rc) rc = resblock_load(&wl, "mid.block_1.", 0, 1e-6f, &e->mid1);
    if (!rc) rc = vae_attn_load(&wl, "mid.attn_1.", &e->attn);
    if (!rc) rc = resblock_load(&wl, "mid.block_2.", 0, 1e-6f, &e->mid2);
    if (!rc) rc = gnorm_load(&wl, "norm_out", e->mid2.cout, 1e-6f, &e->norm_out);
    if (!rc) rc = conv_load(&wl, "conv_out", 1, 1, &e->conv_out);
    if (!rc && e->has_quant && e->quant.cin != e->conv_out.cout) rc = IMG_EFORMAT;
    if (!rc && (e->conv_out.cout % 2 || e->conv_in.cin != 3)) rc = IMG_EFORMAT;
    if (rc || wl.failed) {
        rc = w_report(&wl, rc, "VAE encoder", "unexpected structure", err, errlen);
        vae_encoder_free(e);
        return rc;
    }
    *out = e;
    return IMG_OK;
}

int vae_encoder_latent_channels(const vae_encoder_t *e) {
    return e->conv_out.cout / 2;
}

int vae_encoder_downscale(const vae_encoder_t *e) {
    int s = 1;
    for (int l = 0; l < e->nlevels; l++)
        s *= e->level[l].has_down ? 2 : 1;
    return s;
}

static size_t mx(size_t a, size_t b) {
    return a > b ? a : b;
}

int vae_encode_moments(const vae_encoder_t *e, const kctx_t *kc, const float *image, int h, int w,
                       float *moments, unet_tap_fn tap, void *tap_user) {
    int s = vae_encoder_downscale(e);
    if (h <= 0 || w <= 0 || h % s || w % s) return IMG_EINVAL;
    /* the largest image the walk holds, and the largest scratch a block asks for */
    size_t big = 0, scratch = 0;
    int ch = h, cw = w, c = e->conv_in.cout;
    big = mx(big, (size_t)h * w * 3);
    big = mx(big, (size_t)h * w * c);
    for (int l = 0; l < e->nlevels; l++) {
        const enc_level_t *L = &e->level[l];
        for (int b = 0; b < L->nblocks; b++) {
            c = L->block[b].cout;
            big = mx(big, (size_t)ch * cw * mx((size_t)c, (size_t)L->block[b].cin));
            scratch = mx(scratch, resblock_scratch(&L->block[b], ch, cw));
        }
        if (L->has_down) {
            big = mx(big, (size_t)(ch + 1) * (cw + 1) * c);
            ch /= 2;
            cw /= 2;
        }
    }
    size_t hw = (size_t)ch * cw;
    scratch = mx(scratch, resblock_scratch(&e->mid1, ch, cw));
    scratch = mx(scratch, resblock_scratch(&e->mid2, ch, cw));
    scratch = mx(scratch, vae_attn_scratch(&e->attn, hw));
    big = mx(big, hw * (size_t)e->conv_out.cout);
    /* the model's arena when there is one: memory already faulted in by the UNet or the decoder
     * (fresh pages for ~0.5 GB at 512x512 cost a tenth of the encoder's time) */
    float *own = e->arena ? NULL : malloc(sizeof(float) * (2 * big + scratch + 1));
    float *a = e->arena ? arena_reserve(e->arena, 2 * big + scratch + 1) : own;
    if (!a) return IMG_ENOMEM;
    float *b = a + big, *sc = b + big;
    float *cur = a, *oth = b, *t;
    char name[64];
    ch = h;
    cw = w;
    op_nchw_to_nhwc(image, 3, h, w, oth);
    conv2d_forward(kc, &e->conv_in, oth, h, w, cur, 0);
    c = e->conv_in.cout;
    if (tap) tap(tap_user, "encoder.conv_in_out", cur, ch, cw, c);
    for (int l = 0; l < e->nlevels; l++) {
        const enc_level_t *L = &e->level[l];
        for (int k = 0; k < L->nblocks; k++) {
            resblock_forward(kc, &L->block[k], cur, ch, cw, NULL, oth, sc);
            c = L->block[k].cout;
            t = cur, cur = oth, oth = t;
        }
        if (tap) {
            snprintf(name, sizeof name, "encoder.down.%d.block_last_out", l);
            tap(tap_user, name, cur, ch, cw, c);
        }
        if (L->has_down) {
            conv2d_forward_pad_br(kc, &L->down, cur, ch, cw, oth);
            t = cur, cur = oth, oth = t;
            ch /= 2;
            cw /= 2;
            if (tap) {
                snprintf(name, sizeof name, "encoder.down.%d.downsample_out", l);
                tap(tap_user, name, cur, ch, cw, c);
            }
        }
    }
    resblock_forward(kc, &e->mid1, cur, ch, cw, NULL, oth, sc);
    c = e->mid1.cout;
    if (tap) tap(tap_user, "encoder.mid.block_1_out", oth, ch, cw, c);
    vae_attn_forward(kc, &e->attn, oth, hw, cur, sc);
    if (tap) tap(tap_user, "encoder.mid.attn_1_out", cur, ch, cw, c);
    resblock_forward(kc, &e->mid2, cur, ch, cw, NULL, oth, sc);
    if (tap) tap(tap_user, "encoder.mid.block_2_out", oth, ch, cw, c);
    mt_groupnorm(kc, oth, (int)hw, c, 32, e->norm_out.g, e->norm_out.b, e->norm_out.eps, 1, cur);
    conv2d_forward(kc, &e->conv_out, cur, ch, cw, oth, 0);
    int zc2 = e->conv_out.cout;
    if (tap) tap(tap_user, "encoder.conv_out_out", oth, ch, cw, zc2);
    if (e->has_quant) {
        conv2d_forward(kc, &e->quant, oth, ch, cw, cur, 0);
        t = cur, cur = oth, oth = t;
    }
    op_nhwc_to_nchw(oth, ch, cw, zc2, moments);
    free(own);
    return IMG_OK;
}

void vae_moments_to_latent(const float *moments, size_t n, const float *noise, float scale,
                           float *mean, float *logvar, float *std, float *latent) {
    for (size_t i = 0; i < n; i++) {
        float m = moments[i], lv = moments[n + i];
        lv = lv < -30.0f ? -30.0f : lv > 20.0f ? 20.0f : lv;
        float sd = expf(0.5f * lv);
        if (mean) mean[i] = m;
        if (logvar) logvar[i] = lv;
        if (std) std[i] = sd;
        if (latent) latent[i] = scale * (noise ? m + sd * noise[i] : m);
    }
}
