/* vae.c - the KL VAE decoder. */
#include "engine/models/vae.h"
#include "common/status.h"
#include "engine/kernels/attention.h"
#include "engine/kernels/ops.h"
#include "engine/kernels/ops_mt.h"
#include "engine/models/blocks.h"
#include "engine/models/resblock_lean.h"
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
    size_t need_a, p_at, budget; /* floats: the arena; P's offset in it; strip buffers' budget */
    float *a;                    /* the arena: Q at its start */
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

void vae_use_arena(vae_t *v, arena_t *shared) {
    arena_free(&v->own);
    v->arena = shared ? shared : &v->own;
}

/* The work memory: two images, Q at the arena's start and P at offset p_at, overlapping where no
 * step uses both (at 512x512 the top level's 256-channel image fills Q while P holds only the
 * 64 MiB it is upsampled from), and each step's scratch (strip buffers, a block that cannot run
 * lean) wherever that step leaves room (the top level's beside Q, in P's unused end). One walk of
 * the decoder serves three passes: the first records each step's extents in Q and P (floats from
 * each image's start) to place P, the second places the scratch, the third computes. */
typedef struct {
    int pass;                     /* 0: place P, 1: place the scratch, 2: compute */
    size_t qmax, pmax, p_at, end; /* passes 0-1: what the walk needs; end: the arena's floats */
    size_t budget;                /* floats of strip buffers a lean block may use */
    size_t live[2][2];            /* the step's ranges in the arena (passes 1-2) */
    int nlive;
    float *base, *q, *p; /* pass 2: the arena, Q and P */
} plan_t;

typedef struct {
    int buf; /* 0: Q, 1: P */
    size_t off;
} at_t;

static float *at_ptr(const plan_t *pl, at_t a) {
    return (a.buf ? pl->p : pl->q) + a.off;
}

/* One step uses [off, end) of buffer `buf` and, when ob >= 0, [ooff, oend) of buffer ob. */
static void span2(plan_t *pl, int buf, size_t off, size_t end, int ob, size_t ooff, size_t oend) {
    size_t r[2][2] = {{off, end}, {ooff, oend}};
    int b[2] = {buf, ob}, n = ob >= 0 ? 2 : 1;
    pl->nlive = 0;
    for (int i = 0; i < n; i++) {
        if (b[i] == 0)
            pl->qmax = mx(pl->qmax, r[i][1]);
        else
            pl->pmax = mx(pl->pmax, r[i][1]);
        size_t at = b[i] ? pl->p_at : 0;
        pl->live[pl->nlive][0] = at + r[i][0];
        pl->live[pl->nlive++][1] = at + r[i][1];
    }
    /* Q below P: P starts where this step's Q range ends, or later */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (b[i] == 0 && b[j] == 1 && r[i][1] > r[j][0])
                pl->p_at = mx(pl->p_at, r[i][1] - r[j][0]);
}

/* The step's scratch of n floats: the lowest place, 16-float aligned, that misses the step's
 * ranges (NULL before the last pass). */
static float *scratch_for(plan_t *pl, size_t n) {
    size_t best = (size_t)-1;
    for (int c = -1; c < pl->nlive; c++) {
        size_t at = c < 0 ? 0 : (pl->live[c][1] + 15) & ~(size_t)15;
        int clear = 1;
        for (int i = 0; i < pl->nlive && clear; i++)
            clear = at + n <= pl->live[i][0] || at >= pl->live[i][1];
        if (clear && at < best) best = at;
    }
    pl->end = mx(pl->end, best + n);
    return pl->pass == 2 ? pl->base + best : NULL;
}

/* A resblock on x at *cur (h x w): lean where it can (resblock_lean.h), its middle in the free
 * memory below x or at the other buffer's start; else the classic consuming block into the other
 * buffer. Moves *cur to the output. */
static int block_step(plan_t *pl, const kctx_t *kc, const resblock_t *r, at_t *cur, int h, int w) {
    size_t hw = (size_t)h * w, in = hw * r->cin, out = hw * r->cout;
    if (resblock_lean_ok(r)) {
        int rows = resblock_lean_rows(r, h, w, pl->budget);
        at_t mid = {cur->buf, 0};
        if (r->has_skip)
            span2(pl, cur->buf, cur->off, cur->off + in, -1, 0, 0);
        else if (cur->off >= out)
            span2(pl, cur->buf, 0, cur->off + in, -1, 0, 0);
        else {
            mid.buf = 1 - cur->buf;
            span2(pl, cur->buf, cur->off, cur->off + in, mid.buf, 0, out);
        }
        float *t = scratch_for(pl, resblock_lean_scratch(r, w, rows));
        if (pl->pass < 2) {
            if (r->has_skip) cur->off += out;
            return IMG_OK;
        }
        float *x = at_ptr(pl, *cur);
        float *y = resblock_lean_forward(kc, r, x, h, w, at_ptr(pl, mid), t, rows);
        if (!y) return IMG_EINVAL;
        cur->off += (size_t)(y - x);
        return IMG_OK;
    }
    at_t y = {1 - cur->buf, 0};
    span2(pl, cur->buf, cur->off, cur->off + in, y.buf, 0, out);
    float *t = scratch_for(pl, resblock_scratch_consuming(r, h, w));
    if (pl->pass == 2)
        resblock_forward_consuming(kc, r, at_ptr(pl, *cur), h, w, NULL, at_ptr(pl, y), t);
    *cur = y;
    return IMG_OK;
}

/* The decoder: a planning pass (z, image NULL) or the computation. */
static int walk(const vae_t *v, plan_t *pl, const kctx_t *kc, const float *z, int h, int w,
                float *image, unet_tap_fn tap, void *tap_user) {
    size_t hw = (size_t)h * w;
    int c = vae_latent_channels(v), ch = h, cw = w, rc = IMG_OK;
    size_t lat = hw * (size_t)c;
    at_t q0 = {0, 0}, p0 = {1, 0}, cur;
    span2(pl, 0, 0, lat, 1, 0, lat); /* the latent in Q, post_quant's output in P */
    if (pl->pass == 2) {
        op_nchw_to_nhwc(z, c, h, w, pl->q);
        if (v->has_post_quant) {
            conv2d_forward(kc, &v->post_quant, pl->q, h, w, pl->p, 0);
            if (tap) tap(tap_user, "post_quant_conv_out", pl->p, h, w, c);
        } else {
            memcpy(pl->p, pl->q, sizeof(float) * lat);
        }
    }
    span2(pl, 1, 0, lat, 0, 0, hw * (size_t)v->conv_in.cout);
    if (pl->pass == 2) conv2d_forward(kc, &v->conv_in, pl->p, h, w, pl->q, 0);
    c = v->conv_in.cout;
    cur = q0;
    if (tap && pl->pass == 2) tap(tap_user, "decoder.conv_in_out", at_ptr(pl, cur), h, w, c);
    rc = block_step(pl, kc, &v->mid1, &cur, h, w);
    c = v->mid1.cout;
    if (tap && pl->pass == 2) tap(tap_user, "decoder.mid.block_1_out", at_ptr(pl, cur), h, w, c);
    /* single-head attention over all pixels, channels as the head dimension; its scratch after
     * its output */
    at_t att = cur.buf ? q0 : p0;
    span2(pl, cur.buf, cur.off, cur.off + hw * c, att.buf, 0,
          hw * c + vae_attn_scratch(&v->attn, hw));
    if (!rc && pl->pass == 2) {
        vae_attn_forward(kc, &v->attn, at_ptr(pl, cur), hw, at_ptr(pl, att),
                         at_ptr(pl, att) + hw * c);
        if (tap) tap(tap_user, "decoder.mid.attn_1_out", at_ptr(pl, att), h, w, c);
    }
    cur = att;
    if (!rc) rc = block_step(pl, kc, &v->mid2, &cur, h, w);
    c = v->mid2.cout;
    if (tap && pl->pass == 2) tap(tap_user, "decoder.mid.block_2_out", at_ptr(pl, cur), h, w, c);
    char name[64];
    for (int l = v->nlevels - 1; l >= 0 && !rc; l--) {
        const vae_level_t *L = &v->level[l];
        for (int b = 0; b < L->nblocks && !rc; b++) {
            rc = block_step(pl, kc, &L->block[b], &cur, ch, cw);
            c = L->block[b].cout;
        }
        if (!rc && L->has_up) {
            /* each level's convolutions borrow less of the context's scratch (Winograd's
             * transformed weights: 38 MiB for 512 channels, 9 MiB for the top level's 256) than
             * the level below: what it holds goes back to the system first */
            if (pl->pass == 2 && kc->scratch) arena_free(kc->scratch);
            at_t y = {1 - cur.buf, 0};
            span2(pl, cur.buf, cur.off, cur.off + (size_t)ch * cw * c, y.buf, 0,
                  (size_t)4 * ch * cw * L->up.cout);
            if (pl->pass == 2)
                conv2d_forward_up2(kc, &L->up, at_ptr(pl, cur), ch, cw, at_ptr(pl, y));
            ch *= 2;
            cw *= 2;
            c = L->up.cout;
            cur = y;
            if (tap && pl->pass == 2) {
                snprintf(name, sizeof name, "decoder.up.%d.upsample_out", l);
                tap(tap_user, name, at_ptr(pl, cur), ch, cw, c);
            }
        }
    }
    if (rc) return rc;
    /* norm_out below the image where it fits, else at the other buffer's start; conv_out over
     * the image it no longer needs */
    size_t n = (size_t)ch * cw * c;
    at_t nrm = cur.off >= n ? (at_t){cur.buf, 0} : (at_t){1 - cur.buf, 0};
    if (nrm.buf == cur.buf)
        span2(pl, cur.buf, 0, cur.off + n, -1, 0, 0);
    else
        span2(pl, cur.buf, cur.off, cur.off + n, nrm.buf, 0, n);
    if (pl->pass == 2) {
        mt_groupnorm(kc, at_ptr(pl, cur), ch * cw, c, 32, v->norm_out.g, v->norm_out.b,
                     v->norm_out.eps, 1, at_ptr(pl, nrm));
        conv2d_forward(kc, &v->conv_out, at_ptr(pl, nrm), ch, cw, at_ptr(pl, cur), 0);
        op_nhwc_to_nchw(at_ptr(pl, cur), ch, cw, v->conv_out.cout, image);
    }
    return IMG_OK;
}

static int vae_layout(vae_t *v) {
    float *a = arena_reserve(v->arena, v->need_a);
    if (!a) return IMG_ENOMEM;
    v->a = a;
    return IMG_OK;
}

int vae_prepare(vae_t *v, int h, int w) {
    if (!v->arena) v->arena = &v->own;
    if (v->need_a && v->ah == h && v->aw == w) return vae_layout(v);
    int up = vae_upscale(v);
    size_t top =
        (size_t)h * up * (size_t)w * up * (size_t)(v->nlevels ? v->level[0].block[0].cin : 1);
    plan_t pl = {.pass = 0, .budget = mx((size_t)8 << 20, top / 8)};
    int rc = walk(v, &pl, NULL, NULL, h, w, NULL, NULL, NULL);
    pl.p_at = (pl.p_at + 15) & ~(size_t)15;
    pl.pass = 1;
    if (!rc) rc = walk(v, &pl, NULL, NULL, h, w, NULL, NULL, NULL);
    if (rc) return rc;
    v->p_at = pl.p_at;
    v->need_a = mx(mx(pl.qmax, pl.p_at + pl.pmax), pl.end);
    v->budget = pl.budget;
    v->ah = h;
    v->aw = w;
    return vae_layout(v);
}

int vae_decode(vae_t *v, const kctx_t *kc, const float *z, int h, int w, float *image,
               unet_tap_fn tap, void *tap_user) {
    int rc = vae_prepare(v, h, w);
    if (rc) return rc;
    plan_t pl = {.pass = 2,
                 .budget = v->budget,
                 .p_at = v->p_at,
                 .base = v->a,
                 .q = v->a,
                 .p = v->a + v->p_at};
    return walk(v, &pl, kc, z, h, w, image, tap, tap_user);
}
