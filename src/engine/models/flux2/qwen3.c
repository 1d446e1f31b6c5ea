/* qwen3.c - Qwen3 as a text encoder (qwen3.h), f32. */
#include "engine/models/flux2/qwen3.h"
#include "common/status.h"
#include "engine/kernels/attention.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/half.h"
#include "engine/models/weights.h"
#include "engine/tensor/dtype.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-6f
#define THETA 1000000.0
#define MAX_LAYERS 128

typedef struct {
    gemm_w_t q, k, v, o, gate, up, down;
    float *qn, *kn, *ln1, *ln2;
} layer_t;

struct qwen3 {
    qwen3_info_t I;
    void *embed; /* [vocab, hidden]: 16-bit when embed_half (IEEE, or bfloat16 when embed_bf16),
                    else f32 */
    int embed_half, embed_bf16;
    layer_t layer[MAX_LAYERS];
};

void qwen3_free(qwen3_t *m) {
    if (!m) return;
    for (int l = 0; l < m->I.layers; l++) {
        layer_t *L = &m->layer[l];
        gemm_w_t *w[] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
            gemm_w_free(w[i]);
        free(L->qn);
        free(L->kn);
        free(L->ln1);
        free(L->ln2);
    }
    free(m->embed);
    free(m);
}

const qwen3_info_t *qwen3_info(const qwen3_t *m) {
    return &m->I;
}

void qwen3_flux2_layers(const qwen3_t *m, int out[3]) {
    out[0] = m->I.layers / 4;
    out[1] = m->I.layers / 2;
    out[2] = 3 * m->I.layers / 4;
}

static const st_tensor_t *find(const wload_t *wl, const char *name) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", wl->prefix, name);
    return st_find(wl->file, full);
}

int qwen3_load(const st_file_t *f, int wflags, qwen3_t **out, char *err, size_t errlen) {
    *out = NULL;
    qwen3_t *m = calloc(1, sizeof *m);
    if (!m) return IMG_ENOMEM;
    wload_t wl = W_LOAD(f, wflags);
    static const char *const ROOTS[] = {"model.", ""};
    const st_tensor_t *emb = NULL;
    for (int i = 0; i < 2 && !emb; i++) {
        snprintf(wl.prefix, sizeof wl.prefix, "%s", ROOTS[i]);
        emb = find(&wl, "embed_tokens.weight");
    }
    if (!emb || emb->ndim != 2) {
        snprintf(err, errlen, "no Qwen3 text model (model.embed_tokens.weight) in the file");
        free(m);
        return IMG_ENOTFOUND;
    }
    qwen3_info_t *I = &m->I;
    I->vocab = (int)emb->shape[0];
    I->hidden = (int)emb->shape[1];
    char n[160];
    while (I->layers < MAX_LAYERS &&
           find(&wl, (snprintf(n, sizeof n, "layers.%d.self_attn.q_proj.weight", I->layers), n)))
        I->layers++;
    const st_tensor_t *qn = find(&wl, "layers.0.self_attn.q_norm.weight"),
                      *q = find(&wl, "layers.0.self_attn.q_proj.weight"),
                      *k = find(&wl, "layers.0.self_attn.k_proj.weight"),
                      *g = find(&wl, "layers.0.mlp.gate_proj.weight");
    I->head_dim = qn && qn->ndim == 1 ? (int)qn->shape[0] : 0;
    if (I->head_dim && q && k && g && q->ndim == 2 && k->ndim == 2 && g->ndim == 2) {
        I->heads = (int)q->shape[0] / I->head_dim;
        I->kv_heads = (int)k->shape[0] / I->head_dim;
        I->intermediate = (int)g->shape[0];
    }
    int H = I->hidden, D = I->head_dim, rc = IMG_OK;
    if (!I->layers || !I->heads || !I->kv_heads || I->heads % I->kv_heads || D % 2 ||
        D > ATTN_MAX_HEAD_DIM) {
        snprintf(err, errlen, "Qwen3 text model: unsupported structure (%d layers, head width %d)",
                 I->layers, D);
        free(m);
        return IMG_EFORMAT;
    }
    if (emb->dtype == ST_F16 || emb->dtype == ST_BF16) { /* 16-bit rows, widened per token */
        m->embed = malloc(emb->nbytes);
        if (m->embed)
            memcpy(m->embed, emb->data, emb->nbytes);
        else
            rc = IMG_ENOMEM;
        m->embed_half = 1;
        m->embed_bf16 = emb->dtype == ST_BF16;
    } else {
        m->embed = w_f32(&wl, "embed_tokens.weight", (int64_t)I->vocab * H);
    }
    for (int l = 0; !rc && l < I->layers; l++) {
        layer_t *L = &m->layer[l];
        char p[64];
        snprintf(p, sizeof p, "layers.%d.", l);
#define NAME(s) (snprintf(n, sizeof n, "%s%s", p, s), n)
        rc = w_linear(&wl, NAME("self_attn.q_proj.weight"), I->heads * D, H, &L->q);
        if (!rc) rc = w_linear(&wl, NAME("self_attn.k_proj.weight"), I->kv_heads * D, H, &L->k);
        if (!rc) rc = w_linear(&wl, NAME("self_attn.v_proj.weight"), I->kv_heads * D, H, &L->v);
        if (!rc) rc = w_linear(&wl, NAME("self_attn.o_proj.weight"), H, I->heads * D, &L->o);
        if (!rc) rc = w_linear(&wl, NAME("mlp.gate_proj.weight"), I->intermediate, H, &L->gate);
        if (!rc) rc = w_linear(&wl, NAME("mlp.up_proj.weight"), I->intermediate, H, &L->up);
        if (!rc) rc = w_linear(&wl, NAME("mlp.down_proj.weight"), H, I->intermediate, &L->down);
        if (!rc) L->qn = w_f32(&wl, NAME("self_attn.q_norm.weight"), D);
        if (!rc) L->kn = w_f32(&wl, NAME("self_attn.k_norm.weight"), D);
        if (!rc) L->ln1 = w_f32(&wl, NAME("input_layernorm.weight"), H);
        if (!rc) L->ln2 = w_f32(&wl, NAME("post_attention_layernorm.weight"), H);
#undef NAME
    }
    if (rc || wl.failed || !m->embed) {
        rc = w_report(&wl, rc, "Qwen3 text model", "unexpected structure", err, errlen);
        qwen3_free(m);
        return rc;
    }
    *out = m;
    return IMG_OK;
}

/* y = x / rms(x) * w over rows of c. */
static void rms_norm(const float *x, int rows, int c, const float *w, float *y) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * c;
        double ss = 0;
        for (int i = 0; i < c; i++)
            ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / c + EPS));
        for (int i = 0; i < c; i++)
            y[(size_t)r * c + i] = xr[i] * inv * w[i];
    }
}

/* Each head (width D) of rows x [n][heads * D]: RMSNorm with w, then the half rotation at the
 * row's position: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin), with the row's cos and sin
 * [D / 2] from rope_tables. */
static void norm_rope(float *x, int n, int heads, int D, const float *w, const float *cosv,
                      const float *sinv) {
    for (int r = 0; r < n; r++)
        for (int h = 0; h < heads; h++) {
            float *v = x + ((size_t)r * heads + h) * D;
            const float *c = cosv + (size_t)r * (D / 2), *s = sinv + (size_t)r * (D / 2);
            rms_norm(v, 1, D, w, v);
            for (int j = 0; j < D / 2; j++) {
                float a = v[j], b = v[j + D / 2];
                v[j] = a * c[j] - b * s[j];
                v[j + D / 2] = b * c[j] + a * s[j];
            }
        }
}

/* cos and sin [n][D / 2] of positions 0..n-1: angle r * theta^(-2j/D), the same for every head
 * and layer, so computed once per call. */
static void rope_tables(int n, int D, float *cosv, float *sinv) {
    for (int r = 0; r < n; r++)
        for (int j = 0; j < D / 2; j++) {
            double ang = r / pow(THETA, (double)(2 * j) / D);
            cosv[(size_t)r * (D / 2) + j] = (float)cos(ang);
            sinv[(size_t)r * (D / 2) + j] = (float)sin(ang);
        }
}

int qwen3_hidden(const qwen3_t *m, const kctx_t *kc, const int32_t *tokens, const int32_t *mask,
                 int n, const int *stack, int nstack, float *ctx) {
    const qwen3_info_t *I = &m->I;
    int H = I->hidden, D = I->head_dim, nq = I->heads * D, nkv = I->kv_heads * D,
        F = I->intermediate, real = n;
    if (n <= 0) return IMG_EINVAL;
    int last = 0;
    for (int i = 0; i < nstack; i++) {
        if (stack[i] < 1 || stack[i] > I->layers) return IMG_EINVAL;
        last = stack[i] > last ? stack[i] : last;
    }
    if (mask) { /* ones, then zeros */
        real = 0;
        while (real < n && mask[real] == 1)
            real++;
        for (int i = real; i < n; i++)
            if (mask[i] != 0) return IMG_EINVAL;
        if (!real) return IMG_EINVAL;
    }
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= I->vocab) return IMG_EINVAL;
    /* work memory, freed at the end */
    float *x = malloc(sizeof *x * (size_t)n * H), *h = malloc(sizeof *h * (size_t)n * H),
          *q = malloc(sizeof *q * (size_t)n * nq), *k = malloc(sizeof *k * (size_t)n * nkv),
          *v = malloc(sizeof *v * (size_t)n * nkv), *ke = malloc(sizeof *ke * (size_t)n * nq),
          *ve = malloc(sizeof *ve * (size_t)n * nq), *att = malloc(sizeof *att * (size_t)n * nq),
          *g = malloc(sizeof *g * (size_t)n * F), *u = malloc(sizeof *u * (size_t)n * F),
          *cosv = malloc(sizeof *cosv * (size_t)n * (D / 2)),
          *sinv = malloc(sizeof *sinv * (size_t)n * (D / 2));
    int rc =
        x && h && q && k && v && ke && ve && att && g && u && cosv && sinv ? IMG_OK : IMG_ENOMEM;
    if (!rc) rope_tables(n, D, cosv, sinv);
    isa_t isa = cpu_best_isa();
    for (int i = 0; !rc && i < n; i++) {
        size_t off = (size_t)tokens[i] * H;
        if (!m->embed_half)
            memcpy(x + (size_t)i * H, (const float *)m->embed + off, sizeof *x * (size_t)H);
        else if (m->embed_bf16)
            bf16_to_float(isa, (const uint16_t *)m->embed + off, x + (size_t)i * H, (size_t)H);
        else
            half_to_float(isa, (const uint16_t *)m->embed + off, x + (size_t)i * H, (size_t)H);
    }
    int rep = I->heads / I->kv_heads;
    for (int l = 0; !rc && l < last; l++) {
        const layer_t *L = &m->layer[l];
        rms_norm(x, n, H, L->ln1, h);
        gemm(kc, n, h, H, &L->q, NULL, q, nq, 0);
        gemm(kc, n, h, H, &L->k, NULL, k, nkv, 0);
        gemm(kc, n, h, H, &L->v, NULL, v, nkv, 0);
        norm_rope(q, n, I->heads, D, L->qn, cosv, sinv);
        norm_rope(k, n, I->kv_heads, D, L->kn, cosv, sinv);
        for (int r = 0; r < n; r++) /* each key/value head serves rep query heads */
            for (int hq = 0; hq < I->heads; hq++) {
                memcpy(ke + ((size_t)r * I->heads + hq) * D,
                       k + ((size_t)r * I->kv_heads + hq / rep) * D, sizeof *ke * D);
                memcpy(ve + ((size_t)r * I->heads + hq) * D,
                       v + ((size_t)r * I->kv_heads + hq / rep) * D, sizeof *ve * D);
            }
        attention(kc, q, nq, ke, nq, ve, nq, real, real, I->heads, D, 1, att, nq);
        if (real < n) /* padding rows see every real token */
            attention(kc, q + (size_t)real * nq, nq, ke, nq, ve, nq, n - real, real, I->heads, D, 0,
                      att + (size_t)real * nq, nq);
        gemm(kc, n, att, nq, &L->o, NULL, x, H, 1);
        rms_norm(x, n, H, L->ln2, h);
        gemm(kc, n, h, H, &L->gate, NULL, g, F, 0);
        gemm(kc, n, h, H, &L->up, NULL, u, F, 0);
        for (size_t i = 0; i < (size_t)n * F; i++)
            g[i] = g[i] / (1.f + expf(-g[i])) * u[i];
        gemm(kc, n, g, F, &L->down, NULL, x, H, 1);
        for (int s = 0; s < nstack; s++)
            if (stack[s] == l + 1)
                for (int r = 0; r < n; r++)
                    memcpy(ctx + (size_t)r * nstack * H + (size_t)s * H, x + (size_t)r * H,
                           sizeof *ctx * (size_t)H);
    }
    free(x);
    free(h);
    free(q);
    free(k);
    free(v);
    free(ke);
    free(ve);
    free(att);
    free(g);
    free(u);
    free(cosv);
    free(sinv);
    return rc;
}
