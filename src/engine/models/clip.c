/* clip.c - the CLIP text transformer: pre-LN blocks, causal self-attention, final LayerNorm. */
#include "engine/models/clip.h"
#include "engine/io/gguf_quant.h"
#include "common/status.h"
#include "engine/kernels/attention.h"
#include "engine/kernels/half.h"
#include "engine/kernels/ops.h"
#include "engine/models/weights.h"
#include "engine/tensor/dtype.h"
#include "engine/text/tokenizer.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *ln1_g, *ln1_b, *ln2_g, *ln2_b;
    gemm_w_t qkv, out, fc1, fc2;
    float *qkv_b, *out_b, *fc1_b, *fc2_b;
} clip_layer_t;

struct clip {
    clip_info_t info;
    void *tok_emb; /* [vocab, width]: 16-bit values when tok_half (an F16 or BF16 file: IEEE
                      halves, or bfloat16 when tok_bf16); Q8_0 blocks along each row when tok_q8
                      (8-bit weights, or a file that quantized it); else floats */
    int tok_half, tok_bf16, tok_q8;
    float *pos_emb, *lnf_g, *lnf_b;
    clip_layer_t *layer;
    gemm_w_t proj;
    /* run state, allocated once at load: the forward pass does no malloc */
    float *x, *h, *qkv, *att, *mlp, *tmp;
};

int clip_find(const st_file_t *f, char prefixes[][160], clip_layout_t *layouts, int max) {
    int n = 0;
    for (size_t i = 0; i < st_count(f) && n < max; i++) {
        const char *name = st_get(f, i)->name;
        size_t l = strlen(name);
        const char *hf = "embeddings.token_embedding.weight", *oc = "token_embedding.weight";
        size_t lh = strlen(hf), lo = strlen(oc);
        if (l >= lh && strcmp(name + l - lh, hf) == 0 && l - lh < 160) {
            snprintf(prefixes[n], 160, "%.*s", (int)(l - lh), name);
            layouts[n++] = CLIP_LAYOUT_HF;
        } else if (l >= lo && strcmp(name + l - lo, oc) == 0 && l - lo < 160) {
            char pos[200];
            snprintf(pos, sizeof pos, "%.*spositional_embedding", (int)(l - lo), name);
            if (st_find(f, pos)) {
                snprintf(prefixes[n], 160, "%.*s", (int)(l - lo), name);
                layouts[n++] = CLIP_LAYOUT_OPENCLIP;
            }
        }
    }
    return n;
}

void clip_free(clip_t *c) {
    if (!c) return;
    for (int i = 0; c->layer && i < c->info.layers; i++) {
        clip_layer_t *L = &c->layer[i];
        free(L->ln1_g); free(L->ln1_b); free(L->ln2_g); free(L->ln2_b);
        gemm_w_free(&L->qkv); gemm_w_free(&L->out); gemm_w_free(&L->fc1); gemm_w_free(&L->fc2);
        free(L->qkv_b); free(L->out_b); free(L->fc1_b); free(L->fc2_b);
    }
    free(c->layer);
    free(c->tok_emb); free(c->pos_emb); free(c->lnf_g); free(c->lnf_b);
    gemm_w_free(&c->proj);
    free(c->x);
    free(c);
}

const clip_info_t *clip_info(const clip_t *c) { return &c->info; }

/* Heads are not visible in shapes: the file's config metadata says, else 64 per head as in
 * every released CLIP text tower. */
static int heads_from_metadata(const st_file_t *f, int width) {
    const char *cfg = st_metadata(f, "config");
    int heads = 0;
    if (cfg) {
        json_t *j = json_loads(cfg, 0, NULL);
        json_t *h = j ? json_object_get(j, "heads") : NULL;
        if (json_is_integer(h)) heads = (int)json_integer_value(h);
        json_decref(j);
    }
    if (heads <= 0 || width % heads) heads = width / 64 > 0 ? width / 64 : 1;
    return heads;
}

/* Concatenates three [w, w] row blocks (q, k, v) into one [3w, w] matrix and packs it. */
static int load_qkv_hf(wload_t *wl, const char *base, int w, gemm_w_t *out, float **bias) {
    static const char *const P[3] = {"q_proj", "k_proj", "v_proj"};
    *bias = malloc(sizeof(float) * 3 * (size_t)w);
    if (!*bias) return IMG_ENOMEM;
    char name[256], wn[3][256];
    const char *names[3] = {wn[0], wn[1], wn[2]};
    for (int i = 0; i < 3; i++) {
        snprintf(wn[i], sizeof wn[i], "%sself_attn.%s.weight", base, P[i]);
        snprintf(name, sizeof name, "%sself_attn.%s.bias", base, P[i]);
        float *b = w_f32(wl, name, w);
        if (b) memcpy(*bias + (size_t)i * w, b, sizeof(float) * (size_t)w);
        free(b);
    }
    return wl->failed ? wl->rc : w_linear_cat(wl, names, 3, w, w, out);
}

/* The token table as Q8_0 blocks along each row (gguf_quant.h), read a row at a time from a 16-bit
 * or f32 table, or from the whole table widened when the file holds it in a block type. */
static int tok_to_q8(clip_t *c, wload_t *wl, const st_tensor_t *te, const char *name) {
    size_t rows = (size_t)te->shape[0], W = (size_t)te->shape[1];
    c->tok_emb = malloc(rows * (W / 32) * GGUF_Q8_0_BYTES); /* owned by c */
    if (!c->tok_emb) return IMG_ENOMEM;
    c->tok_q8 = 1;
    uint8_t *out = c->tok_emb;
    if (ST_IS_BLOCK(te->dtype)) {
        float *x = w_f32(wl, name, 0); /* freed below */
        if (!x) return wl->failed ? wl->rc : IMG_ENOMEM;
        gguf_quant_q8_0(x, rows * W, out);
        free(x);
        return IMG_OK;
    }
    if (te->dtype != ST_F16 && te->dtype != ST_BF16 && te->dtype != ST_F32) return IMG_EFORMAT;
    float *row = malloc(sizeof(float) * W); /* freed below */
    if (!row) return IMG_ENOMEM;
    isa_t isa = cpu_best_isa();
    for (size_t r = 0; r < rows; r++) {
        if (te->dtype == ST_F32)
            memcpy(row, (const float *)te->data + r * W, sizeof(float) * W);
        else if (te->dtype == ST_BF16)
            bf16_to_float(isa, (const uint16_t *)te->data + r * W, row, W);
        else
            half_to_float(isa, (const uint16_t *)te->data + r * W, row, W);
        gguf_quant_q8_0(row, W, out + r * (W / 32) * GGUF_Q8_0_BYTES);
    }
    free(row);
    return IMG_OK;
}

int clip_load(const st_file_t *f, const char *prefix, int wflags, clip_t **out, char *err,
              size_t errlen) {
    char prefixes[4][160];
    clip_layout_t layouts[4];
    int found = clip_find(f, prefixes, layouts, 4);
    int pick = -1;
    for (int i = 0; i < found; i++)
        if (!prefix || strcmp(prefixes[i], prefix) == 0) {
            pick = i;
            break;
        }
    if (pick < 0) {
        snprintf(err, errlen, "no CLIP text encoder%s%s found in the file", prefix ? " under " : "",
                 prefix ? prefix : "");
        return IMG_ENOTFOUND;
    }
    clip_t *c = calloc(1, sizeof *c);
    if (!c) return IMG_ENOMEM;
    wload_t wl = W_LOAD(f, wflags);
    snprintf(wl.prefix, sizeof wl.prefix, "%s", prefixes[pick]);
    clip_info_t *I = &c->info;
    I->layout = layouts[pick];
    int hf = I->layout == CLIP_LAYOUT_HF;
    const st_tensor_t *te = w_find(&wl, hf ? "embeddings.token_embedding.weight" : "token_embedding.weight");
    const st_tensor_t *pe = w_find(&wl, hf ? "embeddings.position_embedding.weight" : "positional_embedding");
    int rc = IMG_OK;
    if (!te || !pe || te->ndim != 2 || pe->ndim != 2 || te->shape[1] != pe->shape[1]) {
        snprintf(err, errlen, "text encoder %s: embeddings missing or of the wrong shape", wl.prefix);
        clip_free(c);
        return IMG_EFORMAT;
    }
    I->vocab = (int)te->shape[0];
    I->width = (int)te->shape[1];
    I->context = (int)pe->shape[0];
    I->gelu = !hf;
    I->heads = heads_from_metadata(f, I->width);
    char name[256];
    for (I->layers = 0;; I->layers++) {
        snprintf(name, sizeof name, hf ? "encoder.layers.%d.layer_norm1.weight" : "transformer.resblocks.%d.ln_1.weight", I->layers);
        if (!w_has(&wl, name)) break;
    }
    if (I->context < 2 || I->context > TOK_CONTEXT) {
        snprintf(err, errlen, "text encoder %s: context of %d tokens (2..%d supported)", wl.prefix, I->context, TOK_CONTEXT);
        clip_free(c);
        return IMG_EFORMAT;
    }
    if (I->layers == 0 || I->width % I->heads || I->width / I->heads > ATTN_MAX_HEAD_DIM) {
        snprintf(err, errlen, "text encoder %s: no transformer layers or an unsupported width", wl.prefix);
        clip_free(c);
        return IMG_EFORMAT;
    }
    int W = I->width;
    if ((wl.q8 || ST_IS_BLOCK(te->dtype)) && W % 32 == 0) { /* 8-bit rows: 1.06 bytes a value */
        rc = tok_to_q8(c, &wl, te,
                       hf ? "embeddings.token_embedding.weight" : "token_embedding.weight");
        st_release(f, te);
    } else if (te->dtype == ST_F16 || te->dtype == ST_BF16) { /* kept 16-bit: the table is 49408
                                                          rows, a prompt reads 77 */
        c->tok_emb = malloc(te->nbytes ? te->nbytes : 1); /* owned by c */
        if (c->tok_emb) memcpy(c->tok_emb, te->data, te->nbytes);
        else rc = IMG_ENOMEM;
        c->tok_half = 1;
        c->tok_bf16 = te->dtype == ST_BF16;
        st_release(f, te);
    } else if (ST_IS_BLOCK(te->dtype)) { /* its values as halves: 16-bit rows like the above */
        float *x = w_f32(&wl, hf ? "embeddings.token_embedding.weight" : "token_embedding.weight", 0);
        c->tok_emb = x ? malloc(sizeof(uint16_t) * (size_t)te->numel) : NULL; /* owned by c */
        if (c->tok_emb) half_from_float(cpu_best_isa(), x, c->tok_emb, (size_t)te->numel);
        else if (x) rc = IMG_ENOMEM;
        c->tok_half = 1;
        free(x);
    } else {
        c->tok_emb = w_f32(&wl, hf ? "embeddings.token_embedding.weight" : "token_embedding.weight", 0);
    }
    c->pos_emb = w_f32(&wl, hf ? "embeddings.position_embedding.weight" : "positional_embedding", 0);
    c->lnf_g = w_f32(&wl, hf ? "final_layer_norm.weight" : "ln_final.weight", W);
    c->lnf_b = w_f32(&wl, hf ? "final_layer_norm.bias" : "ln_final.bias", W);
    c->layer = calloc((size_t)I->layers, sizeof *c->layer);
    if (!c->layer) rc = IMG_ENOMEM;
    int mlp = 0;
    for (int l = 0; l < I->layers && rc == IMG_OK && !wl.failed; l++) {
        clip_layer_t *L = &c->layer[l];
        char base[96];
        snprintf(base, sizeof base, hf ? "encoder.layers.%d." : "transformer.resblocks.%d.", l);
#define NM(s) (snprintf(name, sizeof name, "%s%s", base, s), name)
        L->ln1_g = w_f32(&wl, NM(hf ? "layer_norm1.weight" : "ln_1.weight"), W);
        L->ln1_b = w_f32(&wl, NM(hf ? "layer_norm1.bias" : "ln_1.bias"), W);
        L->ln2_g = w_f32(&wl, NM(hf ? "layer_norm2.weight" : "ln_2.weight"), W);
        L->ln2_b = w_f32(&wl, NM(hf ? "layer_norm2.bias" : "ln_2.bias"), W);
        if (hf) {
            rc = load_qkv_hf(&wl, base, W, &L->qkv, &L->qkv_b);
        } else {
            rc = w_linear(&wl, NM("attn.in_proj_weight"), 3 * W, W, &L->qkv);
            L->qkv_b = w_f32(&wl, NM("attn.in_proj_bias"), 3 * W);
        }
        if (rc == IMG_OK) rc = w_linear(&wl, NM(hf ? "self_attn.out_proj.weight" : "attn.out_proj.weight"), W, W, &L->out);
        L->out_b = w_f32(&wl, NM(hf ? "self_attn.out_proj.bias" : "attn.out_proj.bias"), W);
        const st_tensor_t *fc1 = w_find(&wl, NM(hf ? "mlp.fc1.weight" : "mlp.c_fc.weight"));
        if (fc1 && fc1->ndim == 2 && fc1->shape[1] == W) mlp = (int)fc1->shape[0];
        if (rc == IMG_OK && mlp) rc = w_linear(&wl, NM(hf ? "mlp.fc1.weight" : "mlp.c_fc.weight"), mlp, W, &L->fc1);
        L->fc1_b = w_f32(&wl, NM(hf ? "mlp.fc1.bias" : "mlp.c_fc.bias"), mlp);
        if (rc == IMG_OK && mlp) rc = w_linear(&wl, NM(hf ? "mlp.fc2.weight" : "mlp.c_proj.weight"), W, mlp, &L->fc2);
        L->fc2_b = w_f32(&wl, NM(hf ? "mlp.fc2.bias" : "mlp.c_proj.bias"), W);
#undef NM
        if (!mlp) w_fail(&wl, IMG_EFORMAT, "text encoder %s: MLP weights of an unexpected shape", wl.prefix);
    }
    /* Optional projection: OpenCLIP's text_projection [W, P] (x @ P); HF's Linear [P, W] sits
     * beside text_model. */
    if (rc == IMG_OK && !wl.failed) {
        if (!hf && w_has(&wl, "text_projection")) {
            const st_tensor_t *p = w_find(&wl, "text_projection");
            float *pm = w_f32(&wl, "text_projection", 0);
            if (pm && p->ndim == 2 && p->shape[0] == W) {
                I->proj_dim = (int)p->shape[1];
                rc = gemm_pack_t(pm, W, I->proj_dim, &c->proj);
            }
            free(pm);
        } else if (hf) {
            char root[200];
            size_t pl = strlen(wl.prefix);
            snprintf(root, sizeof root, "%s", wl.prefix);
            if (pl >= 11 && strcmp(root + pl - 11, "text_model.") == 0) root[pl - 11] = 0;
            snprintf(name, sizeof name, "%stext_projection.weight", root);
            const st_tensor_t *p = st_find(f, name);
            if (p && p->ndim == 2 && p->shape[1] == W) {
                float *pm = malloc(sizeof(float) * (size_t)p->numel); /* freed below */
                if (!pm) rc = IMG_ENOMEM;
                if (pm && st_to_f32(p, pm, (size_t)p->numel) == IMG_OK) {
                    I->proj_dim = (int)p->shape[0];
                    rc = gemm_pack(pm, I->proj_dim, W, &c->proj);
                }
                free(pm);
            }
        }
    }
    if (rc == IMG_OK && !wl.failed) {
        size_t ctx = (size_t)I->context, per = (size_t)W;
        /* x, h, qkv (3W), att, mlp (mlp width), tmp (W) */
        size_t total = ctx * per * 4 + ctx * 3 * per + ctx * (size_t)mlp + per;
        c->x = malloc(sizeof(float) * total);
        if (!c->x) rc = IMG_ENOMEM;
        else {
            c->h = c->x + ctx * per;
            c->att = c->h + ctx * per;
            c->tmp = c->att + ctx * per;
            c->qkv = c->tmp + ctx * per;
            c->mlp = c->qkv + ctx * 3 * per;
        }
    }
    if (wl.failed || rc) {
        rc = w_report(&wl, rc, "text encoder", "unexpected structure", err, errlen);
        clip_free(c);
        return rc;
    }
    *out = c;
    return IMG_OK;
}

/* dst[t] = token embedding of tokens[t] + position embedding t, for the whole context. */
static void embed(const clip_t *c, const int32_t *tokens, const float *extra, float *dst) {
    int T = c->info.context, W = c->info.width;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < W; i++) {
            size_t at = (size_t)tokens[t] * W + i;
            float v;
            if (tokens[t] < 0) { /* an embedding's vector (clip_forward_ext) */
                v = extra[(size_t)(-1 - tokens[t]) * W + i];
            } else if (c->tok_q8) {
                const uint8_t *blk = (const uint8_t *)c->tok_emb + at / 32 * GGUF_Q8_0_BYTES;
                v = (float)(int8_t)blk[2 + at % 32] * f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
            } else if (c->tok_half) {
                uint16_t h;
                memcpy(&h, (const uint16_t *)c->tok_emb + at, sizeof h);
                v = c->tok_bf16 ? bf16_to_f32(h) : f16_to_f32(h);
            } else {
                v = ((const float *)c->tok_emb)[at];
            }
            dst[(size_t)t * W + i] = v + c->pos_emb[(size_t)t * W + i];
        }
}

int clip_forward(clip_t *c, const kctx_t *kc, const int32_t *tokens, clip_out_t *o) {
    return clip_forward_ext(c, kc, tokens, NULL, 0, o);
}

int clip_forward_ext(clip_t *c, const kctx_t *kc, const int32_t *tokens, const float *extra, int nextra,
                     clip_out_t *o) {
    const clip_info_t *I = &c->info;
    int T = I->context, W = I->width, mlp = c->layer[0].fc1.n;
    int eot = 0;
    for (int t = 0; t < T; t++) {
        if (tokens[t] >= I->vocab || tokens[t] < -nextra) return IMG_EINVAL;
        if (tokens[t] > tokens[eot]) eot = t; /* an embedding's id is negative: never the EOT */
    }
    embed(c, tokens, extra, c->x);
    size_t plane = (size_t)T * W;
    if (o->hidden_all) memcpy(o->hidden_all, c->x, sizeof(float) * plane);
    for (int l = 0; l < I->layers; l++) {
        const clip_layer_t *L = &c->layer[l];
        op_layernorm(c->x, T, W, L->ln1_g, L->ln1_b, 1e-5f, c->h);
        gemm(kc, T, c->h, W, &L->qkv, L->qkv_b, c->qkv, 3 * W, 0);
        attention(kc, c->qkv, 3 * W, c->qkv + W, 3 * W, c->qkv + 2 * W, 3 * W, T, T, I->heads,
                  W / I->heads, 1, c->att, W);
        gemm(kc, T, c->att, W, &L->out, L->out_b, c->x, W, 1);
        op_layernorm(c->x, T, W, L->ln2_g, L->ln2_b, 1e-5f, c->h);
        gemm(kc, T, c->h, W, &L->fc1, L->fc1_b, c->mlp, mlp, 0);
        if (I->gelu)
            op_gelu(c->mlp, (size_t)T * mlp);
        else
            op_quick_gelu(c->mlp, (size_t)T * mlp);
        gemm(kc, T, c->mlp, mlp, &L->fc2, L->fc2_b, c->x, W, 1);
        if (o->hidden_all) memcpy(o->hidden_all + (size_t)(l + 1) * plane, c->x, sizeof(float) * plane);
        if (l == I->layers - 2) {
            if (o->penultimate) memcpy(o->penultimate, c->x, sizeof(float) * plane);
            if (o->penultimate_ln) op_layernorm(c->x, T, W, c->lnf_g, c->lnf_b, 1e-5f, o->penultimate_ln);
        }
    }
    if (I->layers == 1) { /* the penultimate state is the embedding itself */
        embed(c, tokens, extra, c->h);
        if (o->penultimate) memcpy(o->penultimate, c->h, sizeof(float) * plane);
        if (o->penultimate_ln) op_layernorm(c->h, T, W, c->lnf_g, c->lnf_b, 1e-5f, o->penultimate_ln);
    }
    op_layernorm(c->x, T, W, c->lnf_g, c->lnf_b, 1e-5f, c->h);
    if (o->last) memcpy(o->last, c->h, sizeof(float) * plane);
    if (o->pooled) memcpy(o->pooled, c->h + (size_t)eot * W, sizeof(float) * (size_t)W);
    if (o->pooled_proj && I->proj_dim) gemm(kc, 1, c->h + (size_t)eot * W, W, &c->proj, NULL, o->pooled_proj, I->proj_dim, 0);
    return IMG_OK;
}
