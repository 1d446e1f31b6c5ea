/* flux2_transformer.c - FLUX.2's transformer (flux2_transformer.h), f32, one sequence at a time. */
#include "engine/models/flux2/flux2_transformer.h"
#include "common/status.h"
#include "engine/kernels/attention.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/ops.h"
#include "engine/kernels/ops_mt.h"
#include "engine/models/weights.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AXES 4
#define THETA 2000.0
#define LN_EPS 1e-6f
#define RMS_EPS 1e-6f
#define TEMB 256
#define MAX_BLOCKS 64

typedef struct {
    gemm_w_t qkv, proj, mlp0, mlp2;
    float *qn, *kn; /* QK RMSNorm scales [head_dim] */
} stream_t;

typedef struct {
    gemm_w_t lin1, lin2;
    float *qn, *kn;
} single_t;

struct flux2_dit {
    flux2_dit_info_t I;
    gemm_w_t img_in, txt_in, time_in1, time_in2, guid_in1, guid_in2, mod_img, mod_txt, mod_single,
        final_lin, final_mod;
    stream_t img[MAX_BLOCKS], txt[MAX_BLOCKS];
    single_t single[MAX_BLOCKS];
};

void flux2_dit_free(flux2_dit_t *m) {
    if (!m) return;
    gemm_w_t *all[] = {&m->img_in,     &m->txt_in,    &m->time_in1, &m->time_in2,
                       &m->guid_in1,   &m->guid_in2,  &m->mod_img,  &m->mod_txt,
                       &m->mod_single, &m->final_lin, &m->final_mod};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        gemm_w_free(all[i]);
    for (int b = 0; b < m->I.depth; b++)
        for (int s = 0; s < 2; s++) {
            stream_t *t = s ? &m->txt[b] : &m->img[b];
            gemm_w_free(&t->qkv);
            gemm_w_free(&t->proj);
            gemm_w_free(&t->mlp0);
            gemm_w_free(&t->mlp2);
            free(t->qn);
            free(t->kn);
        }
    for (int b = 0; b < m->I.depth_single; b++) {
        gemm_w_free(&m->single[b].lin1);
        gemm_w_free(&m->single[b].lin2);
        free(m->single[b].qn);
        free(m->single[b].kn);
    }
    free(m);
}

const flux2_dit_info_t *flux2_dit_info(const flux2_dit_t *m) {
    return &m->I;
}

/* The rows and columns of a 2-D tensor prefix+name; 0 when absent or not 2-D. */
static int dims(const wload_t *wl, const char *name, int *rows, int *cols) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", wl->prefix, name);
    const st_tensor_t *t = st_find(wl->file, full);
    if (!t || t->ndim != 2) return 0;
    *rows = (int)t->shape[0];
    *cols = (int)t->shape[1];
    return 1;
}

static int load_stream(wload_t *wl, const char *p, const flux2_dit_info_t *I, stream_t *s) {
    char n[160];
    int H = I->hidden, D = I->head_dim, M = I->mlp_hidden;
    int rc = w_linear(wl, (snprintf(n, sizeof n, "%sattn.qkv.weight", p), n), 3 * H, H, &s->qkv);
    if (!rc) rc = w_linear(wl, (snprintf(n, sizeof n, "%sattn.proj.weight", p), n), H, H, &s->proj);
    if (!rc) rc = w_linear(wl, (snprintf(n, sizeof n, "%smlp.0.weight", p), n), 2 * M, H, &s->mlp0);
    if (!rc) rc = w_linear(wl, (snprintf(n, sizeof n, "%smlp.2.weight", p), n), H, M, &s->mlp2);
    if (!rc) s->qn = w_f32(wl, (snprintf(n, sizeof n, "%sattn.norm.query_norm.scale", p), n), D);
    if (!rc) s->kn = w_f32(wl, (snprintf(n, sizeof n, "%sattn.norm.key_norm.scale", p), n), D);
    return rc ? rc : wl->failed ? wl->rc : IMG_OK;
}

int flux2_dit_load(const st_file_t *f, int wflags, flux2_dit_t **out, char *err, size_t errlen) {
    *out = NULL;
    flux2_dit_t *m = calloc(1, sizeof *m);
    if (!m) return IMG_ENOMEM;
    wload_t wl = W_LOAD(f, wflags);
    static const char *const ROOTS[] = {"", "model.diffusion_model."};
    flux2_dit_info_t *I = &m->I;
    int found = 0, r2, c2;
    for (size_t i = 0; i < 2 && !found; i++) {
        snprintf(wl.prefix, sizeof wl.prefix, "%s", ROOTS[i]);
        found = dims(&wl, "img_in.weight", &I->hidden, &I->in_channels) &&
                dims(&wl, "txt_in.weight", &r2, &I->context_dim);
    }
    if (!found) {
        snprintf(err, errlen, "no FLUX.2 transformer (img_in.weight, txt_in.weight) in the file");
        free(m);
        return IMG_ENOTFOUND;
    }
    char n[160];
    while (I->depth < MAX_BLOCKS &&
           w_has(&wl, (snprintf(n, sizeof n, "double_blocks.%d.img_attn.qkv.weight", I->depth), n)))
        I->depth++;
    while (
        I->depth_single < MAX_BLOCKS &&
        w_has(&wl, (snprintf(n, sizeof n, "single_blocks.%d.linear1.weight", I->depth_single), n)))
        I->depth_single++;
    char qname[256];
    snprintf(qname, sizeof qname, "%.160sdouble_blocks.0.img_attn.norm.query_norm.scale",
             wl.prefix);
    const st_tensor_t *qn = st_find(f, qname);
    I->head_dim = qn && qn->ndim == 1 ? (int)qn->shape[0] : 0;
    I->heads = I->head_dim ? I->hidden / I->head_dim : 0;
    I->mlp_hidden = dims(&wl, "double_blocks.0.img_mlp.0.weight", &r2, &c2) ? r2 / 2 : 0;
    I->has_guidance = w_has(&wl, "guidance_in.in_layer.weight");
    int H = I->hidden, rc = IMG_OK;
    if (!I->depth || !I->depth_single || !I->heads || I->heads * I->head_dim != H ||
        I->head_dim % (2 * AXES) || I->head_dim > ATTN_MAX_HEAD_DIM || !I->mlp_hidden) {
        snprintf(
            err, errlen,
            "FLUX.2 transformer: unsupported structure (hidden %d, head width %d, %d + %d blocks)",
            H, I->head_dim, I->depth, I->depth_single);
        free(m);
        return IMG_EFORMAT;
    }
    rc = w_linear(&wl, "img_in.weight", H, I->in_channels, &m->img_in);
    if (!rc) rc = w_linear(&wl, "txt_in.weight", H, I->context_dim, &m->txt_in);
    if (!rc) rc = w_linear(&wl, "time_in.in_layer.weight", H, TEMB, &m->time_in1);
    if (!rc) rc = w_linear(&wl, "time_in.out_layer.weight", H, H, &m->time_in2);
    if (!rc && I->has_guidance)
        rc = w_linear(&wl, "guidance_in.in_layer.weight", H, TEMB, &m->guid_in1);
    if (!rc && I->has_guidance)
        rc = w_linear(&wl, "guidance_in.out_layer.weight", H, H, &m->guid_in2);
    if (!rc) rc = w_linear(&wl, "double_stream_modulation_img.lin.weight", 6 * H, H, &m->mod_img);
    if (!rc) rc = w_linear(&wl, "double_stream_modulation_txt.lin.weight", 6 * H, H, &m->mod_txt);
    if (!rc) rc = w_linear(&wl, "single_stream_modulation.lin.weight", 3 * H, H, &m->mod_single);
    if (!rc) rc = w_linear(&wl, "final_layer.linear.weight", I->in_channels, H, &m->final_lin);
    if (!rc) rc = w_linear(&wl, "final_layer.adaLN_modulation.1.weight", 2 * H, H, &m->final_mod);
    for (int b = 0; !rc && b < I->depth; b++) {
        char p[96];
        snprintf(p, sizeof p, "double_blocks.%d.img_", b);
        rc = load_stream(&wl, p, I, &m->img[b]);
        snprintf(p, sizeof p, "double_blocks.%d.txt_", b);
        if (!rc) rc = load_stream(&wl, p, I, &m->txt[b]);
    }
    for (int b = 0; !rc && b < I->depth_single; b++) {
        single_t *s = &m->single[b];
        int M = I->mlp_hidden;
        rc = w_linear(&wl, (snprintf(n, sizeof n, "single_blocks.%d.linear1.weight", b), n),
                      3 * H + 2 * M, H, &s->lin1);
        if (!rc)
            rc = w_linear(&wl, (snprintf(n, sizeof n, "single_blocks.%d.linear2.weight", b), n), H,
                          H + M, &s->lin2);
        if (!rc)
            s->qn =
                w_f32(&wl, (snprintf(n, sizeof n, "single_blocks.%d.norm.query_norm.scale", b), n),
                      I->head_dim);
        if (!rc)
            s->kn =
                w_f32(&wl, (snprintf(n, sizeof n, "single_blocks.%d.norm.key_norm.scale", b), n),
                      I->head_dim);
    }
    if (rc || wl.failed) {
        rc = w_report(&wl, rc, "FLUX.2 transformer", "unexpected structure", err, errlen);
        flux2_dit_free(m);
        return rc;
    }
    *out = m;
    return IMG_OK;
}

/* ---- the forward pass ---- */

/* out[n] = lin(silu(v)) for a [H] vector v (a one-row product). */
static void silu_linear(const kctx_t *kc, const float *v, int H, const gemm_w_t *w, float *tmp,
                        float *out) {
    memcpy(tmp, v, sizeof *tmp * (size_t)H);
    op_silu(tmp, (size_t)H);
    gemm(kc, 1, tmp, H, w, NULL, out, w->n, 0);
}

/* y = (1 + scale) * LayerNorm(x) + shift, rows of H. */
static void modulate(const kctx_t *kc, const float *x, int rows, int H, const float *shift,
                     const float *scale, float *y) {
    mt_layernorm(kc, x, rows, H, NULL, NULL, LN_EPS, y);
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < H; i++)
            y[(size_t)r * H + i] = (1 + scale[i]) * y[(size_t)r * H + i] + shift[i];
}

/* RMSNorm of each head of the rows' q (columns [0, H)) and k ([H, 2H)) of width ld, then RoPE. */
static void qk_norm_rope(float *qkv, int rows, int ld, int H, int D, const float *qn,
                         const float *kn, const float *cosv, const float *sinv) {
    for (int r = 0; r < rows; r++)
        for (int part = 0; part < 2; part++)
            for (int h = 0; h < H / D; h++) {
                float *x = qkv + (size_t)r * ld + (size_t)part * H + (size_t)h * D;
                const float *sc = part ? kn : qn;
                double ss = 0;
                for (int i = 0; i < D; i++)
                    ss += (double)x[i] * x[i];
                float inv = (float)(1.0 / sqrt(ss / D + RMS_EPS));
                for (int i = 0; i < D; i++)
                    x[i] = x[i] * inv * sc[i];
                const float *c = cosv + (size_t)r * (D / 2), *s = sinv + (size_t)r * (D / 2);
                for (int p = 0; p < D / 2; p++) {
                    float x0 = x[2 * p], x1 = x[2 * p + 1];
                    x[2 * p] = c[p] * x0 - s[p] * x1;
                    x[2 * p + 1] = s[p] * x0 + c[p] * x1;
                }
            }
}

/* RoPE's cos and sin [n][D/2] of positions ids [n][4]: pair p of axis a (D/8 pairs each) turns by
 * pos[a] * theta^(-2k/(D/4)), k its index within the axis. */
static void rope_tables(const float *ids, int n, int D, float *cosv, float *sinv) {
    int ad = D / AXES;
    for (int r = 0; r < n; r++)
        for (int a = 0; a < AXES; a++)
            for (int k = 0; k < ad / 2; k++) {
                double omega = 1.0 / pow(THETA, (double)(2 * k) / ad),
                       ang = (double)ids[(size_t)r * AXES + a] * omega;
                cosv[(size_t)r * (D / 2) + a * (ad / 2) + k] = (float)cos(ang);
                sinv[(size_t)r * (D / 2) + a * (ad / 2) + k] = (float)sin(ang);
            }
}

/* y[rows, M] = silu(x[:, :M]) * x[:, M:2M] */
static void swiglu(const float *x, int rows, int M, float *y) {
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < M; i++) {
            float a = x[(size_t)r * 2 * M + i], b = x[(size_t)r * 2 * M + M + i];
            y[(size_t)r * M + i] = a / (1.f + expf(-a)) * b;
        }
}

/* x += gate * (a @ w^T), rows of H (tmp: rows x H). */
static void gated_add(const kctx_t *kc, float *x, const float *a, int rows, int lda,
                      const gemm_w_t *w, const float *gate, float *tmp) {
    int H = w->n;
    gemm(kc, rows, a, lda, w, NULL, tmp, H, 0);
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < H; i++)
            x[(size_t)r * H + i] += gate[i] * tmp[(size_t)r * H + i];
}

int flux2_dit_forward(const flux2_dit_t *m, const kctx_t *kc, const float *x, const float *x_ids,
                      int nx, float timestep, const float *ctx, const float *ctx_ids, int nt,
                      float guidance, float *out) {
    const flux2_dit_info_t *I = &m->I;
    int H = I->hidden, D = I->head_dim, M = I->mlp_hidden, L = nt + nx, heads = I->heads;
    size_t wide = (size_t)(3 * H + 2 * M > 6 * H ? 3 * H + 2 * M : 6 * H);
    /* the work memory, freed at the end: the joined sequence (txt then img), a modulated copy, the
     * widest projection of every row, attention's output, an MLP's activations, RoPE's tables */
    float *seq = malloc(sizeof(float) * (size_t)L * H),
          *mod = malloc(sizeof(float) * (size_t)L * H),
          *big = malloc(sizeof(float) * (size_t)L * wide),
          *att = malloc(sizeof(float) * (size_t)L * H),
          *act = malloc(sizeof(float) * (size_t)L * (H + M)),
          *tmp = malloc(sizeof(float) * (size_t)L * H),
          *cosv = malloc(sizeof(float) * (size_t)L * (D / 2)),
          *sinv = malloc(sizeof(float) * (size_t)L * (D / 2)),
          *vecs =
              malloc(sizeof(float) * (size_t)(TEMB + 2 * H + 6 * H + 6 * H + 3 * H + 2 * H + H)),
          *qkvj = malloc(sizeof(float) * (size_t)L * 3 * H);
    int rc = seq && mod && big && att && act && tmp && cosv && sinv && vecs && qkvj ? IMG_OK
                                                                                    : IMG_ENOMEM;
    if (rc) goto out;
    float *temb = vecs, *vec = temb + TEMB, *hid = vec + H, *mi = hid + H, *mt = mi + 6 * H,
          *ms = mt + 6 * H, *mf = ms + 3 * H, *sil = mf + 2 * H;
    /* the conditioning vector: MLP(timestep embedding) (+ MLP(guidance embedding)) */
    float t = 1000.f * timestep;
    op_timestep_embedding(&t, 1, TEMB, 10000.f, temb);
    gemm(kc, 1, temb, TEMB, &m->time_in1, NULL, hid, H, 0);
    op_silu(hid, (size_t)H);
    gemm(kc, 1, hid, H, &m->time_in2, NULL, vec, H, 0);
    if (I->has_guidance) {
        float g = 1000.f * guidance;
        op_timestep_embedding(&g, 1, TEMB, 10000.f, temb);
        gemm(kc, 1, temb, TEMB, &m->guid_in1, NULL, hid, H, 0);
        op_silu(hid, (size_t)H);
        gemm(kc, 1, hid, H, &m->guid_in2, NULL, vec, H, 1);
    }
    silu_linear(kc, vec, H, &m->mod_img, sil, mi); /* shift, scale, gate; shift, scale, gate */
    silu_linear(kc, vec, H, &m->mod_txt, sil, mt);
    silu_linear(kc, vec, H, &m->mod_single, sil, ms);
    silu_linear(kc, vec, H, &m->final_mod, sil, mf); /* shift, scale */
    float *txt = seq, *img = seq + (size_t)nt * H;
    gemm(kc, nt, ctx, I->context_dim, &m->txt_in, NULL, txt, H, 0);
    gemm(kc, nx, x, I->in_channels, &m->img_in, NULL, img, H, 0);
    rope_tables(ctx_ids, nt, D, cosv, sinv);
    rope_tables(x_ids, nx, D, cosv + (size_t)nt * (D / 2), sinv + (size_t)nt * (D / 2));

    for (int b = 0; b < I->depth; b++) {
        /* each stream's q, k, v into the joined rows (txt first), normed and turned */
        for (int s = 0; s < 2; s++) {
            const stream_t *st = s ? &m->img[b] : &m->txt[b];
            const float *mm = s ? mi : mt;
            int r0 = s ? nt : 0, rows = s ? nx : nt;
            modulate(kc, seq + (size_t)r0 * H, rows, H, mm, mm + H, mod);
            gemm(kc, rows, mod, H, &st->qkv, NULL, qkvj + (size_t)r0 * 3 * H, 3 * H, 0);
            qk_norm_rope(qkvj + (size_t)r0 * 3 * H, rows, 3 * H, H, D, st->qn, st->kn,
                         cosv + (size_t)r0 * (D / 2), sinv + (size_t)r0 * (D / 2));
        }
        attention(kc, qkvj, 3 * H, qkvj + H, 3 * H, qkvj + 2 * H, 3 * H, L, L, heads, D, 0, att, H);
        for (int s = 0; s < 2; s++) {
            const stream_t *st = s ? &m->img[b] : &m->txt[b];
            const float *mm = s ? mi : mt;
            int r0 = s ? nt : 0, rows = s ? nx : nt;
            float *xs = seq + (size_t)r0 * H;
            gated_add(kc, xs, att + (size_t)r0 * H, rows, H, &st->proj, mm + 2 * H, tmp);
            modulate(kc, xs, rows, H, mm + 3 * H, mm + 4 * H, mod);
            gemm(kc, rows, mod, H, &st->mlp0, NULL, big, 2 * M, 0);
            swiglu(big, rows, M, act);
            gated_add(kc, xs, act, rows, M, &st->mlp2, mm + 5 * H, tmp);
        }
    }
    for (int b = 0; b < I->depth_single; b++) {
        const single_t *st = &m->single[b];
        int ld = 3 * H + 2 * M;
        modulate(kc, seq, L, H, ms, ms + H, mod);
        gemm(kc, L, mod, H, &st->lin1, NULL, big, ld, 0);
        qk_norm_rope(big, L, ld, H, D, st->qn, st->kn, cosv, sinv);
        /* [attention | swiglu(mlp)] as linear2's input */
        attention(kc, big, ld, big + H, ld, big + 2 * H, ld, L, L, heads, D, 0, act, H + M);
        for (int r = 0; r < L; r++)
            for (int i = 0; i < M; i++) {
                float a = big[(size_t)r * ld + 3 * H + i], g = big[(size_t)r * ld + 3 * H + M + i];
                act[(size_t)r * (H + M) + H + i] = a / (1.f + expf(-a)) * g;
            }
        gated_add(kc, seq, act, L, H + M, &st->lin2, ms + 2 * H, tmp);
    }
    modulate(kc, img, nx, H, mf, mf + H, mod);
    gemm(kc, nx, mod, H, &m->final_lin, NULL, out, I->in_channels, 0);
out:
    free(seq);
    free(mod);
    free(big);
    free(att);
    free(act);
    free(tmp);
    free(cosv);
    free(sinv);
    free(vecs);
    free(qkvj);
    return rc;
}
