/* vae.c - the KL VAE decoder. */
#include "engine/models/vae.h"
#include "common/status.h"
#include "engine/kernels/attention.h"
#include "engine/kernels/ops.h"
#include "engine/kernels/ops_mt.h"
#include "engine/models/blocks.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VAE_MAX_LEVELS 8
#define VAE_MAX_BLOCKS 8

typedef struct {
    resblock_t block[VAE_MAX_BLOCKS];
    int nblocks;
    int has_up;
    conv2d_t up;
} vae_level_t;

struct vae {
    conv2d_t post_quant, conv_in, conv_out;
    resblock_t mid1, mid2;
    vae_attn_t attn;
    gnorm_t norm_out;
    vae_level_t level[VAE_MAX_LEVELS];
    int nlevels;
    int has_post_quant;
    /* work arena: its own or a model's shared one (vae_use_arena); planned per shape, laid out on
     * every call */
    int ah, aw;
    arena_t own, *arena;
    size_t need_a, need_b, need_scratch;
    float *a, *b, *scratch;
};

void vae_free(vae_t *v) {
    if (!v) return;
    if (v->has_post_quant) conv2d_free(&v->post_quant);
    conv2d_free(&v->conv_in);
    conv2d_free(&v->conv_out);
    resblock_free(&v->mid1);
    resblock_free(&v->mid2);
    vae_attn_free(&v->attn);
    gnorm_free(&v->norm_out);
    for (int l = 0; l < v->nlevels; l++) {
        for (int b = 0; b < v->level[l].nblocks; b++) resblock_free(&v->level[l].block[b]);
        if (v->level[l].has_up) conv2d_free(&v->level[l].up);
    }
    arena_free(&v->own);
    free(v);
}

int vae_load(const st_file_t *f, int wflags, vae_t **out, char *err, size_t errlen) {
    vae_t *v = calloc(1, sizeof *v);
    if (!v) return IMG_ENOMEM;
    wload_t wl = W_LOAD(f, wflags);
    static const char *const ROOTS[] = {"first_stage_model.", "vae.", ""};
    const char *root = NULL;
    char n[256];
    for (int i = 0; i < 3 && !root; i++) {
        snprintf(n, sizeof n, "%sdecoder.conv_in.weight", ROOTS[i]);
        if (st_find(f, n)) root = ROOTS[i];
    }
    if (!root) {
        snprintf(err, errlen, "no VAE decoder (first_stage_model.decoder.*) in the file");
        free(v);
        return IMG_ENOTFOUND;
    }
    snprintf(wl.prefix, sizeof wl.prefix, "%s", root);
    int rc = IMG_OK;
    /* LDM keeps post_quant_conv beside the decoder, FLUX.2's autoencoder inside it */
    const char *pq = w_has(&wl, "post_quant_conv.weight")           ? "post_quant_conv"
                     : w_has(&wl, "decoder.post_quant_conv.weight") ? "decoder.post_quant_conv"
                                                                    : NULL;
    if (pq) {
        v->has_post_quant = 1;
        rc = conv_load(&wl, pq, 1, 0, &v->post_quant);
    }
    snprintf(wl.prefix, sizeof wl.prefix, "%sdecoder.", root);
    if (!rc) rc = conv_load(&wl, "conv_in", 1, 1, &v->conv_in);
    if (!rc) rc = resblock_load(&wl, "mid.block_1.", 0, 1e-6f, &v->mid1);
    if (!rc) rc = vae_attn_load(&wl, "mid.attn_1.", &v->attn);
    if (!rc) rc = resblock_load(&wl, "mid.block_2.", 0, 1e-6f, &v->mid2);
    while (!rc && v->nlevels < VAE_MAX_LEVELS &&
           w_has(&wl, (snprintf(n, sizeof n, "up.%d.block.0.conv1.weight", v->nlevels), n))) {
        vae_level_t *L = &v->level[v->nlevels];
        while (!rc && L->nblocks < VAE_MAX_BLOCKS &&
               w_has(&wl, (snprintf(n, sizeof n, "up.%d.block.%d.conv1.weight", v->nlevels, L->nblocks), n))) {
            snprintf(n, sizeof n, "up.%d.block.%d.", v->nlevels, L->nblocks);
            rc = resblock_load(&wl, n, 0, 1e-6f, &L->block[L->nblocks]);
            L->nblocks++;
        }
        if (!rc && w_has(&wl, (snprintf(n, sizeof n, "up.%d.upsample.conv.weight", v->nlevels), n))) {
            L->has_up = 1;
            snprintf(n, sizeof n, "up.%d.upsample.conv", v->nlevels);
            rc = conv_load(&wl, n, 1, 1, &L->up);
        }
        v->nlevels++;
    }
    if (!rc && v->nlevels == 0) rc = IMG_EFORMAT;
    if (!rc) rc = gnorm_load(&wl, "norm_out", v->level[0].nblocks ? v->level[0].block[v->level[0].nblocks - 1].cout : 0, 1e-6f, &v->norm_out);
    if (!rc) rc = conv_load(&wl, "conv_out", 1, 1, &v->conv_out);
    if (rc || wl.failed) {
        rc = w_report(&wl, rc, "VAE decoder", "unexpected structure", err, errlen);
        vae_free(v);
        return rc;
    }
    *out = v;
    return IMG_OK;
}

int vae_latent_channels(const vae_t *v) { return v->has_post_quant ? v->post_quant.cin : v->conv_in.cin; }

int vae_upscale(const vae_t *v) {
    int s = 1;
    for (int l = 0; l < v->nlevels; l++) s *= v->level[l].has_up ? 2 : 1;
    return s;
}

static size_t mx(size_t a, size_t b) { return a > b ? a : b; }

/* The arena: the two ping-pong images of vae_decode, each sized for the largest image that
 * lands in it (they differ: at the top level one holds the upsampled 256-channel image, the
 * other only 128-channel ones), then the scratch. The walk below follows vae_decode's swaps. */
void vae_use_arena(vae_t *v, arena_t *shared) {
    arena_free(&v->own);
    v->arena = shared ? shared : &v->own;
}

static int vae_layout(vae_t *v) {
    float *a = arena_reserve(v->arena, v->need_a + v->need_b + v->need_scratch);
    if (!a) return IMG_ENOMEM;
    v->a = a;
    v->b = a + v->need_a;
    v->scratch = v->b + v->need_b;
    return IMG_OK;
}

int vae_prepare(vae_t *v, int h, int w) {
    if (!v->arena) v->arena = &v->own;
    if (v->need_a && v->ah == h && v->aw == w) return vae_layout(v);
    size_t need[2] = {0, 0}; /* floats of v->a and v->b */
    size_t hw = (size_t)h * w, lat = hw * (size_t)vae_latent_channels(v);
    int cur = 0;
#define NEED(buf, n) (need[buf] = mx(need[buf], (n)))
    NEED(1, lat);                                 /* the NHWC latent */
    NEED(0, lat);                                 /* post_quant (or its copy) */
    NEED(1, hw * (size_t)v->conv_in.cout);        /* conv_in */
    NEED(0, hw * (size_t)v->mid1.cout);           /* mid block 1 */
    NEED(1, hw * (size_t)v->mid1.cout);           /* attention */
    NEED(0, hw * (size_t)v->mid2.cout);           /* mid block 2 */
    size_t scratch = mx(resblock_scratch(&v->mid1, h, w), resblock_scratch(&v->mid2, h, w));
    scratch = mx(scratch, vae_attn_scratch(&v->attn, hw));
    int ch = h, cw = w;
    for (int l = v->nlevels - 1; l >= 0; l--) {
        vae_level_t *L = &v->level[l];
        for (int b = 0; b < L->nblocks; b++) {
            scratch = mx(scratch, resblock_scratch_consuming(&L->block[b], ch, cw));
            NEED(1 - cur, (size_t)ch * cw * (size_t)L->block[b].cout);
            cur = 1 - cur;
        }
        if (L->has_up) {
            ch *= 2;
            cw *= 2;
            NEED(1 - cur, (size_t)ch * cw * (size_t)L->up.cout);
            cur = 1 - cur;
        }
    }
    NEED(1 - cur, (size_t)ch * cw * (size_t)v->norm_out.c); /* norm_out */
    NEED(cur, (size_t)ch * cw * (size_t)v->conv_out.cout);  /* conv_out */
#undef NEED
    v->need_a = need[0];
    v->need_b = need[1];
    v->need_scratch = scratch;
    v->ah = h;
    v->aw = w;
    return vae_layout(v);
}

int vae_decode(vae_t *v, const kctx_t *kc, const float *z, int h, int w, float *image,
               unet_tap_fn tap, void *tap_user) {
    int rc = vae_prepare(v, h, w);
    if (rc) return rc;
    float *cur = v->a, *oth = v->b;
    int c = vae_latent_channels(v), ch = h, cw = w;
    op_nchw_to_nhwc(z, c, h, w, oth);
    if (v->has_post_quant) {
        conv2d_forward(kc, &v->post_quant, oth, h, w, cur, 0);
        if (tap) tap(tap_user, "post_quant_conv_out", cur, h, w, c);
    } else {
        memcpy(cur, oth, sizeof(float) * (size_t)h * w * c);
    }
    conv2d_forward(kc, &v->conv_in, cur, h, w, oth, 0);
    c = v->conv_in.cout;
    if (tap) tap(tap_user, "decoder.conv_in_out", oth, h, w, c);
    resblock_forward(kc, &v->mid1, oth, h, w, NULL, cur, v->scratch);
    if (tap) tap(tap_user, "decoder.mid.block_1_out", cur, h, w, c);
    /* single-head attention over all pixels, channels as the head dimension */
    vae_attn_forward(kc, &v->attn, cur, (size_t)h * w, oth, v->scratch);
    if (tap) tap(tap_user, "decoder.mid.attn_1_out", oth, h, w, c);
    resblock_forward(kc, &v->mid2, oth, h, w, NULL, cur, v->scratch);
    if (tap) tap(tap_user, "decoder.mid.block_2_out", cur, h, w, c);
    char name[64];
    for (int l = v->nlevels - 1; l >= 0; l--) {
        vae_level_t *L = &v->level[l];
        for (int b = 0; b < L->nblocks; b++) {
            resblock_forward_consuming(kc, &L->block[b], cur, ch, cw, NULL, oth, v->scratch);
            c = L->block[b].cout;
            float *s = cur; cur = oth; oth = s;
        }
        if (L->has_up) {
            conv2d_forward_up2(kc, &L->up, cur, ch, cw, oth);
            ch *= 2;
            cw *= 2;
            c = L->up.cout;
            float *s = cur; cur = oth; oth = s;
            if (tap) {
                snprintf(name, sizeof name, "decoder.up.%d.upsample_out", l);
                tap(tap_user, name, cur, ch, cw, c);
            }
        }
    }
    mt_groupnorm(kc, cur, ch * cw, c, 32, v->norm_out.g, v->norm_out.b, v->norm_out.eps, 1, oth);
    conv2d_forward(kc, &v->conv_out, oth, ch, cw, cur, 0);
    op_nhwc_to_nchw(cur, ch, cw, v->conv_out.cout, image);
    return IMG_OK;
}
