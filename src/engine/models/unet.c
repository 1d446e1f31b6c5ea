/* unet.c - UNet structure discovery, planning of its work arena, and the forward pass. */
#include "engine/models/unet.h"
#include "common/status.h"
#include "engine/kernels/ops.h"
#include "engine/kernels/ops_mt.h"
#include "engine/models/blocks.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { L_CONV, L_RES, L_ATTN, L_DOWN, L_UP } lkind_t;

typedef struct {
    lkind_t kind;
    conv2d_t conv; /* CONV, DOWN, UP */
    resblock_t res;
    transformer_t attn;
} layer_t;

typedef struct {
    layer_t *l;
    int n;
} ublock_t;

struct unet {
    unet_info_t info;
    gemm_w_t te1, te2, le1, le2;
    float *te1_b, *te2_b, *le1_b, *le2_b;
    ublock_t *in, mid, *out;
    int nin, nout;
    gnorm_t out_norm;
    conv2d_t out_conv;
    /* work arena: its own, or a model's shared one (unet_use_arena); the plan is kept per shape,
     * the buffers laid out in the arena on every call */
    int ah, aw, actx;
    arena_t own, *arena;
    size_t arena_total, emb_floats;
    float *buf_a, *buf_b, *skips, *scratch, *emb, *emb2, *tmp;
    size_t *skip_off; /* per input block: offset, h, w, c (allocated at load) */
    size_t act, skip_total, scratch_size;
};

static void layer_free(layer_t *l) {
    if (l->kind == L_RES) resblock_free(&l->res);
    else if (l->kind == L_ATTN) transformer_free(&l->attn);
    else conv2d_free(&l->conv);
}

static void block_free(ublock_t *b) {
    for (int i = 0; i < b->n; i++) layer_free(&b->l[i]);
    free(b->l);
}

void unet_free(unet_t *u) {
    if (!u) return;
    for (int i = 0; u->in && i < u->nin; i++) block_free(&u->in[i]);
    for (int i = 0; u->out && i < u->nout; i++) block_free(&u->out[i]);
    free(u->in);
    free(u->out);
    block_free(&u->mid);
    gemm_w_free(&u->te1); gemm_w_free(&u->te2); gemm_w_free(&u->le1); gemm_w_free(&u->le2);
    free(u->te1_b); free(u->te2_b); free(u->le1_b); free(u->le2_b);
    gnorm_free(&u->out_norm);
    conv2d_free(&u->out_conv);
    arena_free(&u->own);
    free(u->skip_off);
    free(u);
}

const unet_info_t *unet_info(const unet_t *u) { return &u->info; }

static int load_block(wload_t *wl, const char *base, int heads, int head_dim, ublock_t *b) {
    char n[256];
    for (int j = 0;; j++) {
        char lb[160];
        snprintf(lb, sizeof lb, "%s.%d.", base, j);
#define HAS(s) (snprintf(n, sizeof n, "%s%s", lb, s), w_has(wl, n))
        lkind_t kind;
        if (HAS("in_layers.2.weight")) kind = L_RES;
        else if (HAS("proj_in.weight")) kind = L_ATTN;
        else if (HAS("op.weight")) kind = L_DOWN;
        else if (HAS("conv.weight")) kind = L_UP;
        else if (HAS("weight")) kind = L_CONV;
        else break;
#undef HAS
        layer_t *nl = realloc(b->l, sizeof *nl * (size_t)(b->n + 1));
        if (!nl) return IMG_ENOMEM;
        b->l = nl;
        layer_t *l = &b->l[b->n];
        memset(l, 0, sizeof *l);
        l->kind = kind;
        b->n++;
        int rc;
        lb[strlen(lb) - 1] = 0; /* without the trailing dot */
        switch (kind) {
        case L_RES: snprintf(n, sizeof n, "%s.", lb); rc = resblock_load(wl, n, 1, 1e-5f, &l->res); break;
        case L_ATTN: snprintf(n, sizeof n, "%s.", lb); rc = transformer_load(wl, n, heads, head_dim, &l->attn); break;
        case L_DOWN: snprintf(n, sizeof n, "%s.op", lb); rc = conv_load(wl, n, 2, 1, &l->conv); break;
        case L_UP: snprintf(n, sizeof n, "%s.conv", lb); rc = conv_load(wl, n, 1, 1, &l->conv); break;
        default: rc = conv_load(wl, lb, 1, 1, &l->conv); break;
        }
        if (rc) return rc;
    }
    return b->n ? IMG_OK : IMG_EFORMAT;
}

/* Loads NAME.0, NAME.1, ... while a block's first layer exists. */
static int load_block_list(wload_t *wl, const char *name, int heads, int head_dim, ublock_t **arr, int *n) {
    char base[64], probe[96];
    static const char *const FIRST[] = {"weight", "in_layers.2.weight", "op.weight"};
    for (;;) {
        int exists = 0;
        for (int k = 0; k < 3 && !exists; k++)
            exists = w_has(wl, (snprintf(probe, sizeof probe, "%s.%d.0.%s", name, *n, FIRST[k]), probe));
        if (!exists) return IMG_OK;
        ublock_t *nb = realloc(*arr, sizeof *nb * (size_t)(*n + 1));
        if (!nb) return IMG_ENOMEM;
        *arr = nb;
        memset(&nb[*n], 0, sizeof nb[0]);
        snprintf(base, sizeof base, "%s.%d", name, *n);
        (*n)++;
        int rc = load_block(wl, base, heads, head_dim, &nb[*n - 1]);
        if (rc) return rc;
    }
}

/* heads: the file's config (num_heads / num_head_channels), else SD's convention: 8 heads with
 * conv projections (SD1), 64 channels per head with linear ones (SD2, SDXL). */
static void heads_config(const st_file_t *f, int conv_proj, int *heads, int *head_dim) {
    *heads = conv_proj ? 8 : 0;
    *head_dim = conv_proj ? 0 : 64;
    const char *cfg = st_metadata(f, "config");
    json_t *j = cfg ? json_loads(cfg, 0, NULL) : NULL;
    json_t *nh = j ? json_object_get(j, "num_heads") : NULL, *hc = j ? json_object_get(j, "num_head_channels") : NULL;
    if (json_is_integer(nh) && json_integer_value(nh) > 0) {
        *heads = (int)json_integer_value(nh);
        *head_dim = 0;
    } else if (json_is_integer(hc) && json_integer_value(hc) > 0) {
        *head_dim = (int)json_integer_value(hc);
        *heads = 0;
    }
    json_decref(j);
}

int unet_load(const st_file_t *f, int wflags, unet_t **out, char *err, size_t errlen) {
    unet_t *u = calloc(1, sizeof *u);
    if (!u) return IMG_ENOMEM;
    wload_t wl = W_LOAD(f, wflags);
    static const char *const PREFIXES[] = {"model.diffusion_model.", ""};
    for (int i = 0; i < 2; i++) {
        snprintf(wl.prefix, sizeof wl.prefix, "%s", PREFIXES[i]);
        if (w_has(&wl, "input_blocks.0.0.weight")) break;
        wl.prefix[0] = 0;
    }
    int rc = IMG_OK;
    if (!w_has(&wl, "input_blocks.0.0.weight")) {
        snprintf(err, errlen, "no LDM UNet (model.diffusion_model.*) in the file");
        free(u);
        return IMG_ENOTFOUND;
    }
    const st_tensor_t *cin = w_find(&wl, "input_blocks.0.0.weight");
    u->info.in_ch = (int)cin->shape[1];
    u->info.model_ch = (int)cin->shape[0];
    int conv_proj = 0;
    char n[256];
    for (int i = 0; i < 64 && !conv_proj; i++)
        for (int j = 1; j < 3; j++) {
            snprintf(n, sizeof n, "%sinput_blocks.%d.%d.proj_in.weight", wl.prefix, i, j);
            const st_tensor_t *t = st_find(f, n);
            if (t) conv_proj = t->ndim == 4;
        }
    int heads, head_dim;
    heads_config(f, conv_proj, &heads, &head_dim);
    rc = w_linear(&wl, "time_embed.0.weight", w_find(&wl, "time_embed.0.weight") ? (int)w_find(&wl, "time_embed.0.weight")->shape[0] : 0, u->info.model_ch, &u->te1);
    u->te1_b = w_f32(&wl, "time_embed.0.bias", 0);
    int emb_dim = u->te1.n;
    if (!rc) rc = w_linear(&wl, "time_embed.2.weight", emb_dim, emb_dim, &u->te2);
    u->te2_b = w_f32(&wl, "time_embed.2.bias", emb_dim);
    if (!rc && w_has(&wl, "label_emb.0.0.weight")) {
        const st_tensor_t *le = w_find(&wl, "label_emb.0.0.weight");
        u->info.adm_in = (int)le->shape[1];
        rc = w_linear(&wl, "label_emb.0.0.weight", emb_dim, u->info.adm_in, &u->le1);
        u->le1_b = w_f32(&wl, "label_emb.0.0.bias", emb_dim);
        if (!rc) rc = w_linear(&wl, "label_emb.0.2.weight", emb_dim, emb_dim, &u->le2);
        u->le2_b = w_f32(&wl, "label_emb.0.2.bias", emb_dim);
    }
    if (!rc) rc = load_block_list(&wl, "input_blocks", heads, head_dim, &u->in, &u->nin);
    if (!rc) rc = load_block(&wl, "middle_block", heads, head_dim, &u->mid);
    if (!rc) rc = load_block_list(&wl, "output_blocks", heads, head_dim, &u->out, &u->nout);
    if (!rc) rc = gnorm_load(&wl, "out.0", u->info.model_ch, 1e-5f, &u->out_norm);
    if (!rc) rc = conv_load(&wl, "out.2", 1, 1, &u->out_conv);
    if (!rc && (u->nin != u->nout || u->nin < 1)) rc = IMG_EFORMAT;
    if (!rc && !(u->skip_off = malloc(sizeof(size_t) * 4 * (size_t)u->nin))) rc = IMG_ENOMEM;
    if (!rc) {
        u->info.out_ch = u->out_conv.cout;
        for (int i = 0; i < u->nin; i++)
            for (int j = 0; j < u->in[i].n; j++) {
                if (u->in[i].l[j].kind == L_ATTN) u->info.ctx_dim = u->in[i].l[j].attn.ctx_dim;
                if (u->in[i].l[j].kind == L_DOWN) u->info.downsamples++;
            }
        u->info.family = u->info.adm_in ? UNET_SDXL : conv_proj ? UNET_SD1 : UNET_SD2;
    }
    if (rc || wl.failed) {
        rc = w_report(&wl, rc, "UNet", "unexpected structure", err, errlen);
        unet_free(u);
        return rc;
    }
    *out = u;
    return IMG_OK;
}

/* ---- planning ---- */

typedef struct {
    size_t act, scratch, skips;
} plan_t;

static size_t mx(size_t a, size_t b) { return a > b ? a : b; }

static void plan_layer(const layer_t *l, int *h, int *w, int *c, int nctx, plan_t *p) {
    switch (l->kind) {
    case L_CONV:
        *c = l->conv.cout;
        break;
    case L_RES:
        p->scratch = mx(p->scratch, resblock_scratch(&l->res, *h, *w));
        *c = l->res.cout;
        break;
    case L_ATTN: p->scratch = mx(p->scratch, transformer_scratch(&l->attn, *h, *w, nctx)); break;
    case L_DOWN:
        conv2d_out_size(&l->conv, *h, *w, h, w);
        *c = l->conv.cout;
        break;
    case L_UP:
        *h *= 2;
        *w *= 2;
        *c = l->conv.cout;
        break;
    }
    p->act = mx(p->act, (size_t)*h * *w * (size_t)*c);
}

void unet_use_arena(unet_t *u, arena_t *shared) {
    arena_free(&u->own);
    u->arena = shared ? shared : &u->own;
}

/* Lays the buffers out in the arena for the planned shape. */
static int unet_layout(unet_t *u) {
    float *a = arena_reserve(u->arena, u->arena_total);
    if (!a) return IMG_ENOMEM;
    u->buf_a = a;
    u->buf_b = a + u->act;
    u->skips = u->buf_b + u->act;
    u->scratch = u->skips + u->skip_total;
    u->emb = u->scratch + u->scratch_size;
    u->emb2 = u->emb + u->emb_floats;
    u->tmp = u->emb2 + u->emb_floats;
    return IMG_OK;
}

int unet_prepare(unet_t *u, int h, int w, int nctx) {
    if (!u->arena) u->arena = &u->own;
    if (u->arena_total && h == u->ah && w == u->aw && nctx <= u->actx) return unet_layout(u);
    plan_t p = {.act = (size_t)h * w * (size_t)u->info.in_ch};
    int ch = h, cw = w, c = u->info.in_ch;
    int *sc = malloc(sizeof(int) * 3 * (size_t)u->nin);
    if (!sc) return IMG_ENOMEM;
    for (int i = 0; i < u->nin; i++) {
        for (int j = 0; j < u->in[i].n; j++) plan_layer(&u->in[i].l[j], &ch, &cw, &c, nctx, &p);
        sc[3 * i] = ch; sc[3 * i + 1] = cw; sc[3 * i + 2] = c;
        p.skips += (size_t)ch * cw * c;
    }
    for (int j = 0; j < u->mid.n; j++) plan_layer(&u->mid.l[j], &ch, &cw, &c, nctx, &p);
    for (int i = 0; i < u->nout; i++) {
        int k = u->nin - 1 - i;
        if (sc[3 * k] != ch || sc[3 * k + 1] != cw) { /* sizes that do not halve evenly */
            free(sc);
            return IMG_EINVAL;
        }
        c += sc[3 * k + 2];
        p.act = mx(p.act, (size_t)ch * cw * c);
        for (int j = 0; j < u->out[i].n; j++) plan_layer(&u->out[i].l[j], &ch, &cw, &c, nctx, &p);
    }
    free(sc);
    size_t emb = (size_t)u->te1.n;
    u->arena_total = 2 * p.act + p.skips + p.scratch + 4 * emb + (size_t)u->info.model_ch + 64;
    u->emb_floats = emb;
    u->act = p.act;
    u->skip_total = p.skips;
    u->scratch_size = p.scratch;
    u->ah = h;
    u->aw = w;
    u->actx = nctx;
    return unet_layout(u);
}

/* ---- forward ---- */

static void run_layer(unet_t *u, const kctx_t *kc, const layer_t *l, const float *x, float *y, int *h,
                      int *w, int *c, const float *ctx, int nctx) {
    switch (l->kind) {
    case L_CONV:
    case L_DOWN:
        conv2d_forward(kc, &l->conv, x, *h, *w, y, 0);
        conv2d_out_size(&l->conv, *h, *w, h, w);
        *c = l->conv.cout;
        break;
    case L_RES:
        resblock_forward(kc, &l->res, x, *h, *w, u->emb2, y, u->scratch);
        *c = l->res.cout;
        break;
    case L_ATTN: transformer_forward(kc, &l->attn, x, *h, *w, ctx, nctx, y, u->scratch); break;
    case L_UP: {
        conv2d_forward_up2(kc, &l->conv, x, *h, *w, y);
        *h *= 2;
        *w *= 2;
        *c = l->conv.cout;
        break;
    }
    }
}

void unet_timestep_embedding(const unet_t *u, float t, float *out) {
    op_timestep_embedding(&t, 1, u->info.model_ch, 10000.f, out);
}

int unet_forward(unet_t *u, const kctx_t *kc, const float *x, int h, int w, float t,
                 const float *context, int nctx, const float *y, float *out, unet_tap_fn tap,
                 void *tap_user) {
    int rc = unet_prepare(u, h, w, nctx);
    if (rc) return rc;
    if ((u->info.adm_in > 0) != (y != NULL)) return IMG_EINVAL;
    int emb_dim = u->te1.n;
    unet_timestep_embedding(u, t, u->tmp);
    gemm(kc, 1, u->tmp, u->info.model_ch, &u->te1, u->te1_b, u->emb2, emb_dim, 0);
    op_silu(u->emb2, (size_t)emb_dim);
    gemm(kc, 1, u->emb2, emb_dim, &u->te2, u->te2_b, u->emb, emb_dim, 0);
    if (tap) tap(tap_user, "time_embed_out", u->emb, 1, 1, emb_dim);
    if (u->info.adm_in) {
        gemm(kc, 1, y, u->info.adm_in, &u->le1, u->le1_b, u->emb2, emb_dim, 0);
        op_silu(u->emb2, (size_t)emb_dim);
        float *lab = u->emb2 + emb_dim; /* the tmp area follows emb2 */
        gemm(kc, 1, u->emb2, emb_dim, &u->le2, u->le2_b, lab, emb_dim, 0);
        if (tap) tap(tap_user, "label_emb_out", lab, 1, 1, emb_dim);
        op_add(u->emb, lab, (size_t)emb_dim);
    }
    memcpy(u->emb2, u->emb, sizeof(float) * (size_t)emb_dim);
    op_silu(u->emb2, (size_t)emb_dim); /* every ResBlock's emb_layers start with SiLU */

    float *cur = u->buf_a, *oth = u->buf_b;
    int ch = h, cw = w, c = u->info.in_ch;
    op_nchw_to_nhwc(x, c, h, w, cur);
    size_t *off = u->skip_off;
    size_t pos = 0;
    char name[64];
    for (int i = 0; i < u->nin; i++) {
        for (int j = 0; j < u->in[i].n; j++) {
            run_layer(u, kc, &u->in[i].l[j], cur, oth, &ch, &cw, &c, context, nctx);
            float *s = cur; cur = oth; oth = s;
        }
        size_t n = (size_t)ch * cw * c;
        memcpy(u->skips + pos, cur, sizeof(float) * n);
        off[4 * i] = pos; off[4 * i + 1] = (size_t)ch; off[4 * i + 2] = (size_t)cw; off[4 * i + 3] = (size_t)c;
        pos += n;
        if (tap) {
            snprintf(name, sizeof name, "input_blocks.%d", i);
            tap(tap_user, name, cur, ch, cw, c);
        }
    }
    for (int j = 0; j < u->mid.n; j++) {
        run_layer(u, kc, &u->mid.l[j], cur, oth, &ch, &cw, &c, context, nctx);
        float *s = cur; cur = oth; oth = s;
    }
    if (tap) tap(tap_user, "middle_block", cur, ch, cw, c);
    for (int i = 0; i < u->nout; i++) {
        int k = u->nin - 1 - i;
        int sc = (int)off[4 * k + 3];
        op_concat_channels(cur, c, u->skips + off[4 * k], sc, ch * cw, oth);
        c += sc;
        float *s = cur; cur = oth; oth = s;
        for (int j = 0; j < u->out[i].n; j++) {
            run_layer(u, kc, &u->out[i].l[j], cur, oth, &ch, &cw, &c, context, nctx);
            float *s2 = cur; cur = oth; oth = s2;
        }
        if (tap) {
            snprintf(name, sizeof name, "output_blocks.%d", i);
            tap(tap_user, name, cur, ch, cw, c);
        }
    }
    mt_groupnorm(kc, cur, ch * cw, c, 32, u->out_norm.g, u->out_norm.b, u->out_norm.eps, 1, oth);
    conv2d_forward(kc, &u->out_conv, oth, ch, cw, cur, 0);
    op_nhwc_to_nchw(cur, ch, cw, u->info.out_ch, out);
    return IMG_OK;
}
