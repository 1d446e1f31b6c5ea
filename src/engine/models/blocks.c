/* blocks.c - ResNet blocks and spatial transformers of the LDM family. */
#include "engine/models/blocks.h"
#include "common/status.h"
#include "engine/kernels/attention.h"
#include "engine/kernels/ops.h"
#include "engine/kernels/ops_mt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gnorm_load(wload_t *wl, const char *name, int c, float eps, gnorm_t *out) {
    char n[256];
    if (c <= 0 || c % 32) { /* every GroupNorm of the SD family has 32 groups */
        w_fail(wl, IMG_EFORMAT, "%s%s: %d channels do not split into GroupNorm's 32 groups", wl->prefix, name, c);
        out->g = out->b = NULL;
        return IMG_EFORMAT;
    }
    out->c = c;
    out->eps = eps;
    snprintf(n, sizeof n, "%s.weight", name);
    out->g = w_f32(wl, n, c);
    snprintf(n, sizeof n, "%s.bias", name);
    out->b = w_f32(wl, n, c);
    return out->g && out->b ? IMG_OK : wl->rc;
}

void gnorm_free(gnorm_t *g) {
    free(g->g);
    free(g->b);
    g->g = g->b = NULL;
}

int conv_load(wload_t *wl, const char *name, int stride, int pad, conv2d_t *out) {
    char n[256];
    snprintf(n, sizeof n, "%s.weight", name);
    const st_tensor_t *t = w_find(wl, n);
    if (!t) return IMG_EFORMAT;
    if (t->ndim != 4) {
        w_fail(wl, IMG_EFORMAT, "tensor %.100s%.100s is not a convolution weight", wl->prefix, n);
        return IMG_EFORMAT;
    }
    int direct = t->dtype == ST_F16 || t->dtype == ST_BF16;
    int q8 = wl->q8 || ST_IS_BLOCK(t->dtype); /* a GGUF block type: 8-bit panels */
    float *w = direct ? NULL : w_f32(wl, n, 0);
    char bn[256];
    snprintf(bn, sizeof bn, "%s.bias", name);
    float *b = w_has(wl, bn) ? w_f32(wl, bn, t->shape[0]) : NULL;
    int rc = wl->failed ? wl->rc : IMG_EFORMAT;
    if (direct) { /* packed straight from the file's 16-bit values (as halves, or 8-bit) */
        rc = conv2d_init_16bit(out, t->data, t->dtype == ST_BF16, q8, b, (int)t->shape[0],
                               (int)t->shape[1], (int)t->shape[2], (int)t->shape[3], stride, pad);
        st_release(wl->file, t);
    } else if (w) {
        rc = (q8 ? conv2d_init_q8 : conv2d_init)(out, w, b, (int)t->shape[0], (int)t->shape[1],
                                                 (int)t->shape[2], (int)t->shape[3], stride, pad);
    }
    free(w);
    free(b);
    w_fail_pack(wl, rc, n);
    return w_pairs(wl, rc, &out->w, n);
}

/* A linear weight stored as [n, k] or as a 1x1 convolution [n, k, 1, 1]. */
static int linear_any(wload_t *wl, const char *name, gemm_w_t *out, float **bias, int *n_out, int *k_out) {
    char n[256];
    snprintf(n, sizeof n, "%s.weight", name);
    const st_tensor_t *t = w_find(wl, n);
    if (!t) return IMG_EFORMAT;
    int n0 = (int)t->shape[0], k0 = (int)(t->numel / (t->shape[0] ? t->shape[0] : 1));
    int rc = w_linear(wl, n, n0, k0, out);
    if (bias) {
        snprintf(n, sizeof n, "%s.bias", name);
        *bias = w_has(wl, n) ? w_f32(wl, n, n0) : NULL;
    }
    if (n_out) *n_out = n0;
    if (k_out) *k_out = k0;
    return rc;
}

int resblock_load(wload_t *wl, const char *base, int ldm, float eps, resblock_t *r) {
    char n[256];
    memset(r, 0, sizeof *r);
    int rc;
#define N(s) (snprintf(n, sizeof n, "%s%s", base, s), n)
    rc = conv_load(wl, N(ldm ? "in_layers.2" : "conv1"), 1, 1, &r->conv1);
    if (rc) return rc;
    r->cin = r->conv1.cin;
    r->cout = r->conv1.cout;
    rc = gnorm_load(wl, N(ldm ? "in_layers.0" : "norm1"), r->cin, eps, &r->n1);
    if (!rc) rc = gnorm_load(wl, N(ldm ? "out_layers.0" : "norm2"), r->cout, eps, &r->n2);
    if (!rc) rc = conv_load(wl, N(ldm ? "out_layers.3" : "conv2"), 1, 1, &r->conv2);
    if (!rc && ldm && w_has(wl, N("emb_layers.1.weight"))) {
        r->has_emb = 1;
        int no;
        rc = linear_any(wl, N("emb_layers.1"), &r->emb, &r->emb_b, &no, NULL);
        if (!rc && no != r->cout) rc = IMG_EFORMAT;
    }
    const char *skip = ldm ? "skip_connection" : "nin_shortcut";
    if (!rc && w_has(wl, (snprintf(n, sizeof n, "%s%s.weight", base, skip), n))) {
        r->has_skip = 1;
        rc = conv_load(wl, N(skip), 1, 0, &r->skip);
    }
#undef N
    if (!rc && !r->has_skip && r->cin != r->cout) rc = IMG_EFORMAT;
    return wl->failed ? wl->rc : rc;
}

void resblock_free(resblock_t *r) {
    gnorm_free(&r->n1);
    gnorm_free(&r->n2);
    conv2d_free(&r->conv1);
    conv2d_free(&r->conv2);
    if (r->has_emb) {
        gemm_w_free(&r->emb);
        free(r->emb_b);
    }
    if (r->has_skip) conv2d_free(&r->skip);
}

int transformer_load(wload_t *wl, const char *base, int heads_hint, int head_dim_hint, transformer_t *t) {
    char n[256];
    memset(t, 0, sizeof *t);
#define N(s) (snprintf(n, sizeof n, "%s%s", base, s), n)
    int c, k;
    int rc = linear_any(wl, N("proj_in"), &t->proj_in, &t->proj_in_b, &c, &k);
    if (rc) return rc;
    t->c = c;
    rc = gnorm_load(wl, N("norm"), k, 1e-6f, &t->norm);
    if (!rc) rc = linear_any(wl, N("proj_out"), &t->proj_out, &t->proj_out_b, NULL, NULL);
    while (!rc && w_has(wl, (snprintf(n, sizeof n, "%stransformer_blocks.%d.norm1.weight", base, t->depth), n))) t->depth++;
    if (!rc && t->depth == 0) rc = IMG_EFORMAT;
    if (!rc) t->blocks = calloc((size_t)t->depth, sizeof *t->blocks);
    if (!rc && !t->blocks) rc = IMG_ENOMEM;
    for (int d = 0; d < t->depth && !rc; d++) {
        tblock_t *b = &t->blocks[d];
        char bb[200];
        snprintf(bb, sizeof bb, "%stransformer_blocks.%d.", base, d);
#define B(s) (snprintf(n, sizeof n, "%s%s", bb, s), n)
        b->n1_g = w_f32(wl, B("norm1.weight"), c);
        b->n1_b = w_f32(wl, B("norm1.bias"), c);
        b->n2_g = w_f32(wl, B("norm2.weight"), c);
        b->n2_b = w_f32(wl, B("norm2.bias"), c);
        b->n3_g = w_f32(wl, B("norm3.weight"), c);
        b->n3_b = w_f32(wl, B("norm3.bias"), c);
        char qn[3][256];
        const char *qkv[3] = {qn[0], qn[1], qn[2]};
        snprintf(qn[0], sizeof qn[0], "%sattn1.to_q.weight", bb);
        snprintf(qn[1], sizeof qn[1], "%sattn1.to_k.weight", bb);
        snprintf(qn[2], sizeof qn[2], "%sattn1.to_v.weight", bb);
        rc = w_linear_cat(wl, qkv, 3, c, c, &b->qkv);
        if (!rc) rc = linear_any(wl, B("attn1.to_out.0"), &b->out1, &b->out1_b, NULL, NULL);
        if (!rc) rc = linear_any(wl, B("attn2.to_q"), &b->q2, NULL, NULL, NULL);
        if (!rc) {
            const st_tensor_t *tk = w_find(wl, B("attn2.to_k.weight"));
            t->ctx_dim = tk && tk->ndim == 2 ? (int)tk->shape[1] : 0;
            char kn[2][256];
            const char *kv[2] = {kn[0], kn[1]};
            snprintf(kn[0], sizeof kn[0], "%sattn2.to_k.weight", bb);
            snprintf(kn[1], sizeof kn[1], "%sattn2.to_v.weight", bb);
            rc = t->ctx_dim ? w_linear_cat(wl, kv, 2, c, t->ctx_dim, &b->kv2) : IMG_EFORMAT;
        }
        if (!rc) rc = linear_any(wl, B("attn2.to_out.0"), &b->out2, &b->out2_b, NULL, NULL);
        int ffn = 0;
        if (!rc) rc = linear_any(wl, B("ff.net.0.proj"), &b->ff1, &b->ff1_b, &ffn, NULL);
        if (!rc) rc = linear_any(wl, B("ff.net.2"), &b->ff2, &b->ff2_b, NULL, NULL);
        if (!rc && b->ff2.k * 2 != ffn) rc = IMG_EFORMAT;
#undef B
    }
#undef N
    if (!rc) {
        if (heads_hint > 0 && c % heads_hint == 0) t->heads = heads_hint;
        else if (head_dim_hint > 0 && c % head_dim_hint == 0) t->heads = c / head_dim_hint;
        else t->heads = c / 64 > 0 ? c / 64 : 1;
        if (c / t->heads > ATTN_MAX_HEAD_DIM) rc = IMG_EUNSUPPORTED;
    }
    return wl->failed ? wl->rc : rc;
}

void transformer_free(transformer_t *t) {
    gnorm_free(&t->norm);
    gemm_w_free(&t->proj_in);
    gemm_w_free(&t->proj_out);
    free(t->proj_in_b);
    free(t->proj_out_b);
    for (int d = 0; t->blocks && d < t->depth; d++) {
        tblock_t *b = &t->blocks[d];
        free(b->n1_g); free(b->n1_b); free(b->n2_g); free(b->n2_b); free(b->n3_g); free(b->n3_b);
        gemm_w_free(&b->qkv); gemm_w_free(&b->out1); gemm_w_free(&b->q2); gemm_w_free(&b->kv2);
        gemm_w_free(&b->out2); gemm_w_free(&b->ff1); gemm_w_free(&b->ff2);
        free(b->out1_b); free(b->out2_b); free(b->ff1_b); free(b->ff2_b);
    }
    free(t->blocks);
    t->blocks = NULL;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

size_t resblock_scratch(const resblock_t *r, int h, int w) {
    return (size_t)h * w * max_sz((size_t)r->cin, (size_t)r->cout) + (size_t)r->cout;
}

/* b[p] += emb_layers(emb) for every pixel (UNet blocks; emb is SiLU(emb) already, e is scratch
 * for cout floats). */
static void add_time_embedding(const kctx_t *kc, const resblock_t *r, const float *emb, float *b,
                               size_t hw, float *e) {
    if (!r->has_emb || !emb) return;
    gemm(kc, 1, emb, r->emb.k, &r->emb, r->emb_b, e, r->cout, 0);
    for (size_t p = 0; p < hw; p++) op_add(b + p * r->cout, e, (size_t)r->cout);
}

void resblock_forward(const kctx_t *kc, const resblock_t *r, const float *x, int h, int w,
                      const float *emb, float *y, float *scratch) {
    size_t hw = (size_t)h * w;
    /* One scratch image: conv1's output goes to y (free until the residual sum), the second
     * norm reads it back into the scratch, then y gets the skip path and conv2 adds to it. */
    float *a = scratch, *b = y, *e = a + hw * max_sz((size_t)r->cin, (size_t)r->cout);
    mt_groupnorm(kc, x, (int)hw, r->cin, 32, r->n1.g, r->n1.b, r->n1.eps, 1, a);
    conv2d_forward(kc, &r->conv1, a, h, w, b, 0);
    add_time_embedding(kc, r, emb, b, hw, e);
    mt_groupnorm(kc, b, (int)hw, r->cout, 32, r->n2.g, r->n2.b, r->n2.eps, 1, a);
    if (r->has_skip)
        conv2d_forward(kc, &r->skip, x, h, w, y, 0);
    else
        memcpy(y, x, sizeof(float) * hw * r->cout);
    conv2d_forward(kc, &r->conv2, a, h, w, y, 1);
}

size_t resblock_scratch_consuming(const resblock_t *r, int h, int w) {
    return r->has_skip ? (size_t)h * w * (size_t)r->cout + (size_t)r->cout : resblock_scratch(r, h, w);
}

void resblock_forward_consuming(const kctx_t *kc, const resblock_t *r, float *x, int h, int w,
                                const float *emb, float *y, float *scratch) {
    if (!r->has_skip) {
        resblock_forward(kc, r, x, h, w, emb, y, scratch);
        return;
    }
    /* The skip path first, while x is intact; then x itself holds its normalised copy, and the
     * scratch only conv1's (narrower, at a decoder's channel reduction) output. */
    size_t hw = (size_t)h * w;
    float *b = scratch, *e = b + hw * r->cout;
    conv2d_forward(kc, &r->skip, x, h, w, y, 0);
    mt_groupnorm(kc, x, (int)hw, r->cin, 32, r->n1.g, r->n1.b, r->n1.eps, 1, x);
    conv2d_forward(kc, &r->conv1, x, h, w, b, 0);
    add_time_embedding(kc, r, emb, b, hw, e);
    mt_groupnorm(kc, b, (int)hw, r->cout, 32, r->n2.g, r->n2.b, r->n2.eps, 1, b);
    conv2d_forward(kc, &r->conv2, b, h, w, y, 1);
}

size_t transformer_scratch(const transformer_t *t, int h, int w, int nctx) {
    size_t hw = (size_t)h * w, c = (size_t)t->c;
    int ffn = t->blocks[0].ff1.n;
    /* normed, hidden, wide (qkv / ff1 output), narrow (attention / geglu), context k|v */
    return hw * c * 2 + hw * max_sz(3 * c, (size_t)ffn) + hw * max_sz(c, (size_t)ffn / 2) +
           (size_t)nctx * 2 * c;
}

void transformer_forward(const kctx_t *kc, const transformer_t *t, const float *x, int h, int w,
                         const float *ctx, int nctx, float *y, float *scratch) {
    int hw = h * w, c = t->c, dh = c / t->heads;
    int ffn = t->blocks[0].ff1.n;
    float *nrm = scratch, *hid = nrm + (size_t)hw * c;
    float *wide = hid + (size_t)hw * c;
    float *narrow = wide + (size_t)hw * (3 * c > ffn ? 3 * c : ffn);
    float *kv = narrow + (size_t)hw * (c > ffn / 2 ? c : ffn / 2);
    mt_groupnorm(kc, x, hw, t->norm.c, 32, t->norm.g, t->norm.b, t->norm.eps, 0, nrm);
    gemm(kc, hw, nrm, t->norm.c, &t->proj_in, t->proj_in_b, hid, c, 0);
    for (int d = 0; d < t->depth; d++) {
        const tblock_t *b = &t->blocks[d];
        mt_layernorm(kc, hid, hw, c, b->n1_g, b->n1_b, 1e-5f, nrm);
        gemm(kc, hw, nrm, c, &b->qkv, NULL, wide, 3 * c, 0);
        attention(kc, wide, 3 * c, wide + c, 3 * c, wide + 2 * c, 3 * c, hw, hw, t->heads, dh, 0, narrow, c);
        gemm(kc, hw, narrow, c, &b->out1, b->out1_b, hid, c, 1);
        mt_layernorm(kc, hid, hw, c, b->n2_g, b->n2_b, 1e-5f, nrm);
        gemm(kc, hw, nrm, c, &b->q2, NULL, wide, c, 0);
        gemm(kc, nctx, ctx, t->ctx_dim, &b->kv2, NULL, kv, 2 * c, 0);
        attention(kc, wide, c, kv, 2 * c, kv + c, 2 * c, hw, nctx, t->heads, dh, 0, narrow, c);
        gemm(kc, hw, narrow, c, &b->out2, b->out2_b, hid, c, 1);
        mt_layernorm(kc, hid, hw, c, b->n3_g, b->n3_b, 1e-5f, nrm);
        gemm(kc, hw, nrm, c, &b->ff1, b->ff1_b, wide, ffn, 0);
        mt_geglu(kc, wide, hw, ffn / 2, narrow);
        gemm(kc, hw, narrow, ffn / 2, &b->ff2, b->ff2_b, hid, c, 1);
    }
    memcpy(y, x, sizeof(float) * (size_t)hw * t->norm.c);
    gemm(kc, hw, hid, c, &t->proj_out, t->proj_out_b, y, t->norm.c, 1);
}

int vae_attn_load(wload_t *wl, const char *base, vae_attn_t *a) {
    memset(a, 0, sizeof *a);
    char wn[3][128], n[128];
    const char *names[3] = {wn[0], wn[1], wn[2]};
    static const char *const QKV[3] = {"q", "k", "v"};
    snprintf(n, sizeof n, "%sq.weight", base);
    const st_tensor_t *t = w_find(wl, n);
    if (!t) return IMG_EFORMAT;
    int c = (int)t->shape[0];
    a->c = c;
    a->qkv_b = malloc(sizeof(float) * 3 * (size_t)c);
    if (!a->qkv_b) return IMG_ENOMEM;
    for (int i = 0; i < 3; i++) {
        snprintf(wn[i], sizeof wn[i], "%s%s.weight", base, QKV[i]);
        snprintf(n, sizeof n, "%s%s.bias", base, QKV[i]);
        float *b = w_f32(wl, n, c);
        if (b) memcpy(a->qkv_b + (size_t)i * c, b, sizeof(float) * (size_t)c);
        free(b);
    }
    int rc = wl->failed ? wl->rc : w_linear_cat(wl, names, 3, c, c, &a->qkv);
    snprintf(n, sizeof n, "%snorm", base);
    if (!rc) rc = gnorm_load(wl, n, c, 1e-6f, &a->norm);
    if (!rc) {
        snprintf(n, sizeof n, "%sproj_out.bias", base);
        a->proj_b = w_f32(wl, n, c);
        snprintf(n, sizeof n, "%sproj_out.weight", base);
        rc = w_linear(wl, n, c, c, &a->proj);
    }
    return rc;
}

void vae_attn_free(vae_attn_t *a) {
    gnorm_free(&a->norm);
    gemm_w_free(&a->qkv);
    gemm_w_free(&a->proj);
    free(a->qkv_b);
    free(a->proj_b);
    memset(a, 0, sizeof *a);
}

size_t vae_attn_scratch(const vae_attn_t *a, size_t hw) { return hw * (size_t)a->c * 5; }

void vae_attn_forward(const kctx_t *kc, const vae_attn_t *a, const float *x, size_t hw, float *y,
                      float *scratch) {
    int c = a->c;
    float *nrm = scratch, *qkv = nrm + hw * c, *att = qkv + hw * 3 * c;
    mt_groupnorm(kc, x, (int)hw, c, 32, a->norm.g, a->norm.b, a->norm.eps, 0, nrm);
    gemm(kc, (int)hw, nrm, c, &a->qkv, a->qkv_b, qkv, 3 * c, 0);
    attention(kc, qkv, 3 * c, qkv + c, 3 * c, qkv + 2 * c, 3 * c, (int)hw, (int)hw, 1, c, 0, att, c);
    memcpy(y, x, sizeof(float) * hw * c);
    gemm(kc, (int)hw, att, c, &a->proj, a->proj_b, y, c, 1);
}
