/* lora_delta.c - ΔW of one adapter module (LoRA/LoCon, LoHa, LoKr, full), see lora_delta.h. */
#include "engine/lora/lora_delta.h"
#include "common/status.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SUFFIX[LP_COUNT] = {
    [LP_DOWN] = ".lora_down.weight",
    [LP_UP] = ".lora_up.weight",
    [LP_MID] = ".lora_mid.weight",
    [LP_ALPHA] = ".alpha",
    [LP_DORA] = ".dora_scale",
    [LP_HADA_W1A] = ".hada_w1_a",
    [LP_HADA_W1B] = ".hada_w1_b",
    [LP_HADA_W2A] = ".hada_w2_a",
    [LP_HADA_W2B] = ".hada_w2_b",
    [LP_HADA_T1] = ".hada_t1",
    [LP_HADA_T2] = ".hada_t2",
    [LP_LOKR_W1] = ".lokr_w1",
    [LP_LOKR_W1A] = ".lokr_w1_a",
    [LP_LOKR_W1B] = ".lokr_w1_b",
    [LP_LOKR_W2] = ".lokr_w2",
    [LP_LOKR_W2A] = ".lokr_w2_a",
    [LP_LOKR_W2B] = ".lokr_w2_b",
    [LP_LOKR_T2] = ".lokr_t2",
    [LP_DIFF] = ".diff",
};

int lora_part_of(const char *name, size_t *module_len) {
    size_t l = strlen(name);
    /* PEFT's names for down and up */
    static const struct {
        const char *s;
        lora_part_t p;
    } PEFT[] = {{".lora_A.weight", LP_DOWN},
                {".lora_B.weight", LP_UP},
                {".lora_A.default.weight", LP_DOWN},
                {".lora_B.default.weight", LP_UP}};
    for (size_t k = 0; k < sizeof PEFT / sizeof PEFT[0]; k++) {
        size_t ls = strlen(PEFT[k].s);
        if (l > ls && !strcmp(name + l - ls, PEFT[k].s)) {
            *module_len = l - ls;
            return (int)PEFT[k].p;
        }
    }
    for (int p = 0; p < LP_COUNT; p++) {
        size_t ls = strlen(SUFFIX[p]);
        if (l > ls && !strcmp(name + l - ls, SUFFIX[p])) {
            *module_len = l - ls;
            return p;
        }
    }
    return -1;
}

/* A malloc'd f32 copy of t (owned by the caller); NULL when memory runs out or t is no number. */
static float *f32(const st_tensor_t *t) {
    float *p = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
    if (p && st_to_f32(t, p, (size_t)t->numel)) {
        free(p);
        return NULL;
    }
    return p;
}

/* c[m, n] = a[m, k] · b[k, n] (a row-major; at: a given as [k, m] instead). Four rows of b per
 * pass over a row of c: the rank k is small, a row of c is long. */
static void matmul(const float *restrict a, int at, const float *restrict b, int m, int k, int n,
                   float *restrict c) {
    for (int i = 0; i < m; i++) {
        float *restrict ci = c + (size_t)i * n;
        memset(ci, 0, sizeof(float) * (size_t)n);
        int r = 0;
        for (; r + 4 <= k; r += 4) {
            float v[4];
            for (int q = 0; q < 4; q++)
                v[q] = at ? a[(size_t)(r + q) * m + i] : a[(size_t)i * k + r + q];
            const float *restrict b0 = b + (size_t)r * n, *restrict b1 = b0 + n, *restrict b2 = b1 + n,
                                  *restrict b3 = b2 + n;
            for (int j = 0; j < n; j++)
                ci[j] += v[0] * b0[j] + v[1] * b1[j] + v[2] * b2[j] + v[3] * b3[j];
        }
        for (; r < k; r++) {
            float v = at ? a[(size_t)r * m + i] : a[(size_t)i * k + r];
            const float *restrict br = b + (size_t)r * n;
            for (int j = 0; j < n; j++)
                ci[j] += v * br[j];
        }
    }
}

/* The Tucker product out[o, c, k] = Σ_i Σ_j t[i, j, k] wb[j, c] wa[i, o] (t [r, r2, kk], wa
 * [r, O], wb [r2, C]); tmp holds r * C * kk values. */
static void tucker(const float *t, const float *wa, const float *wb, int r, int r2, int O, int C,
                   int kk, float *tmp, float *out) {
    for (int i = 0; i < r; i++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < kk; k++) {
                float s = 0;
                for (int j = 0; j < r2; j++)
                    s += t[((size_t)i * r2 + j) * kk + k] * wb[(size_t)j * C + c];
                tmp[((size_t)i * C + c) * kk + k] = s;
            }
    matmul(wa, 1, tmp, O, r, C * kk, out);
}

typedef struct {
    float *buf[12]; /* the most a module needs: LoKr with both factors decomposed, Tucker on w2 (8) */
    int n;
} owned_t;

static float *own(owned_t *o, float *p) {
    if (p && o->n < (int)(sizeof o->buf / sizeof o->buf[0]))
        o->buf[o->n++] = p;
    else
        free(p), p = NULL;
    return p;
}

static void own_free(owned_t *o) {
    for (int i = 0; i < o->n; i++)
        free(o->buf[i]);
}

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), IMG_EFORMAT)

int lora_delta(const st_tensor_t *const p[LP_COUNT], const st_tensor_t *w, float *dw, char *err,
               size_t errlen) {
    if (w->ndim < 1 || w->shape[0] < 1) return FAIL("the weight has no rows");
    int64_t out = w->shape[0], in_total = w->numel / out,
            kk = w->ndim == 4 ? w->shape[2] * w->shape[3] : 1;
    int64_t in = in_total / kk;
    float alpha = 0;
    int has_alpha = p[LP_ALPHA] && p[LP_ALPHA]->numel == 1;
    if (has_alpha && st_to_f32(p[LP_ALPHA], &alpha, 1)) return FAIL("its alpha is not a number");
    owned_t o = {{0}, 0};
    int rc = IMG_OK;
#define NEED(t) (own(&o, f32(t)))          /* an f32 copy of tensor t */
#define OWN(buf) (own(&o, (float *)(buf))) /* a work buffer */
#define SHAPE_ERR(what)                                                                            \
    (FAIL("%s does not fit a weight of shape %lld x %lld", what, (long long)out,                   \
          (long long)in_total))
    if (p[LP_DIFF]) {
        if (p[LP_DIFF]->numel != w->numel)
            rc = SHAPE_ERR("its diff");
        else if (st_to_f32(p[LP_DIFF], dw, (size_t)w->numel))
            rc = FAIL("its diff is not a number");
        return rc;
    }
    if (p[LP_DOWN] && p[LP_UP]) { /* LoRA, LoCon */
        const st_tensor_t *dn = p[LP_DOWN], *up = p[LP_UP], *mid = p[LP_MID];
        int64_t r = dn->ndim ? dn->shape[0] : 0;
        if (r < 1) return SHAPE_ERR("its lora_down");
        float scale = has_alpha ? alpha / (float)r : 1.0f;
        if (!mid) {
            if (dn->numel != r * in_total || up->numel != out * r)
                return SHAPE_ERR("its lora_down/lora_up");
            float *d = NEED(dn), *u = NEED(up);
            if (!d || !u)
                rc = IMG_ENOMEM;
            else
                matmul(u, 0, d, (int)out, (int)r, (int)in_total, dw);
        } else {
            int64_t ru = mid->ndim >= 2 ? mid->shape[0] : 0,
                    rd = mid->ndim >= 2 ? mid->shape[1] : 0;
            if (ru < 1 || rd != r || mid->numel != ru * rd * kk || dn->numel != rd * in ||
                up->numel != out * ru)
                return SHAPE_ERR("its lora_down/lora_mid/lora_up");
            float *d = NEED(dn), *u = NEED(up), *m = NEED(mid),
                  *tmp = OWN(malloc(sizeof(float) * (size_t)(ru * in * kk)));
            if (!d || !u || !m || !tmp)
                rc = IMG_ENOMEM;
            else {
                /* tmp[a, c, k] = Σ_b mid[a, b, k] down[b, c]; ΔW = up · tmp */
                for (int64_t a = 0; a < ru; a++)
                    for (int64_t c = 0; c < in; c++)
                        for (int64_t k = 0; k < kk; k++) {
                            float s = 0;
                            for (int64_t b = 0; b < rd; b++)
                                s += m[(a * rd + b) * kk + k] * d[b * in + c];
                            tmp[(a * in + c) * kk + k] = s;
                        }
                matmul(u, 0, tmp, (int)out, (int)ru, (int)(in * kk), dw);
            }
        }
        for (int64_t i = 0; !rc && i < w->numel; i++)
            dw[i] *= scale;
    } else if (p[LP_HADA_W1A] && p[LP_HADA_W1B] && p[LP_HADA_W2A] && p[LP_HADA_W2B]) { /* LoHa */
        const st_tensor_t *a1 = p[LP_HADA_W1A], *b1 = p[LP_HADA_W1B], *a2 = p[LP_HADA_W2A],
                          *b2 = p[LP_HADA_W2B];
        int64_t r1 = b1->ndim ? b1->shape[0] : 0, r2 = b2->ndim ? b2->shape[0] : 0;
        if (r1 < 1 || r2 < 1) return SHAPE_ERR("its hada_w1_b/hada_w2_b");
        float scale = has_alpha ? alpha / (float)r1 : 1.0f;
        float *tmp2 = OWN(malloc(sizeof(float) * (size_t)w->numel));
        float *x1 = NEED(a1), *y1 = NEED(b1), *x2 = NEED(a2), *y2 = NEED(b2);
        if (!tmp2 || !x1 || !y1 || !x2 || !y2)
            rc = IMG_ENOMEM;
        else if (p[LP_HADA_T1] && p[LP_HADA_T2]) {
            const st_tensor_t *t1 = p[LP_HADA_T1], *t2 = p[LP_HADA_T2];
            if (t1->numel != r1 * r1 * kk || t2->numel != r2 * r2 * kk || a1->numel != r1 * out ||
                b1->numel != r1 * in || a2->numel != r2 * out || b2->numel != r2 * in)
                rc = SHAPE_ERR("its hada tensors");
            float *u1 = rc ? NULL : NEED(t1), *u2 = rc ? NULL : NEED(t2);
            int64_t rm = r1 > r2 ? r1 : r2;
            float *tmp = rc ? NULL : OWN(malloc(sizeof(float) * (size_t)(rm * in * kk)));
            if (!rc && (!u1 || !u2 || !tmp)) rc = IMG_ENOMEM;
            if (!rc) {
                tucker(u1, x1, y1, (int)r1, (int)r1, (int)out, (int)in, (int)kk, tmp, dw);
                tucker(u2, x2, y2, (int)r2, (int)r2, (int)out, (int)in, (int)kk, tmp, tmp2);
            }
        } else if (a1->numel != out * r1 || b1->numel != r1 * in_total || a2->numel != out * r2 ||
                   b2->numel != r2 * in_total) {
            rc = SHAPE_ERR("its hada tensors");
        } else {
            matmul(x1, 0, y1, (int)out, (int)r1, (int)in_total, dw);
            matmul(x2, 0, y2, (int)out, (int)r2, (int)in_total, tmp2);
        }
        for (int64_t i = 0; !rc && i < w->numel; i++)
            dw[i] *= tmp2[i] * scale;
    } else if ((p[LP_LOKR_W1] || (p[LP_LOKR_W1A] && p[LP_LOKR_W1B])) &&
               (p[LP_LOKR_W2] || (p[LP_LOKR_W2A] && p[LP_LOKR_W2B]))) { /* LoKr */
        int64_t a, c, b, d, r = 0;
        float *w1, *w2;
        if (p[LP_LOKR_W1]) {
            const st_tensor_t *t = p[LP_LOKR_W1];
            if (t->ndim != 2) return SHAPE_ERR("its lokr_w1");
            a = t->shape[0], c = t->shape[1];
            w1 = NEED(t);
        } else {
            const st_tensor_t *x = p[LP_LOKR_W1A], *y = p[LP_LOKR_W1B];
            if (x->ndim != 2 || y->ndim < 2 || y->shape[0] != x->shape[1])
                return SHAPE_ERR("its lokr_w1_a/lokr_w1_b");
            a = x->shape[0], r = x->shape[1], c = y->numel / r;
            float *fx = NEED(x), *fy = NEED(y);
            w1 = OWN(malloc(sizeof(float) * (size_t)(a * c)));
            if (fx && fy && w1) matmul(fx, 0, fy, (int)a, (int)r, (int)c, w1);
        }
        if (p[LP_LOKR_W2]) {
            const st_tensor_t *t = p[LP_LOKR_W2];
            if (t->ndim < 2) return (own_free(&o), SHAPE_ERR("its lokr_w2"));
            b = t->shape[0], d = t->numel / (b * kk);
            if (b * d * kk != t->numel) return (own_free(&o), SHAPE_ERR("its lokr_w2"));
            w2 = NEED(t);
        } else if (p[LP_LOKR_T2]) {
            const st_tensor_t *x = p[LP_LOKR_W2A], *y = p[LP_LOKR_W2B], *t = p[LP_LOKR_T2];
            int64_t r2 = x->ndim == 2 ? x->shape[0] : 0;
            if (r2 < 1 || y->ndim != 2 || y->shape[0] != r2 || t->numel != r2 * r2 * kk)
                return (own_free(&o), SHAPE_ERR("its lokr_t2/lokr_w2_a/lokr_w2_b"));
            if (!r) r = r2;
            b = x->shape[1], d = y->shape[1];
            float *fx = NEED(x), *fy = NEED(y), *ft = NEED(t),
                  *tmp = OWN(malloc(sizeof(float) * (size_t)(r2 * d * kk)));
            w2 = OWN(malloc(sizeof(float) * (size_t)(b * d * kk)));
            if (fx && fy && ft && tmp && w2)
                tucker(ft, fx, fy, (int)r2, (int)r2, (int)b, (int)d, (int)kk, tmp, w2);
        } else {
            const st_tensor_t *x = p[LP_LOKR_W2A], *y = p[LP_LOKR_W2B];
            int64_t r2 = x->ndim == 2 ? x->shape[1] : 0;
            if (r2 < 1 || y->ndim < 2 || y->shape[0] != r2)
                return (own_free(&o), SHAPE_ERR("its lokr_w2_a/lokr_w2_b"));
            if (!r) r = r2;
            b = x->shape[0], d = y->numel / (r2 * kk);
            float *fx = NEED(x), *fy = NEED(y);
            w2 = OWN(malloc(sizeof(float) * (size_t)(b * d * kk)));
            if (fx && fy && w2) matmul(fx, 0, fy, (int)b, (int)r2, (int)(d * kk), w2);
        }
        if (a * b != out || c * d != in)
            rc = SHAPE_ERR("its Kronecker factors");
        else if (!w1 || !w2)
            rc = IMG_ENOMEM;
        else {
            float scale = has_alpha && r ? alpha / (float)r : 1.0f;
            for (int64_t ia = 0; ia < a; ia++)
                for (int64_t ib = 0; ib < b; ib++)
                    for (int64_t ic = 0; ic < c; ic++) {
                        float v = w1[ia * c + ic] * scale;
                        float *row = dw + ((ia * b + ib) * in + ic * d) * kk;
                        const float *src = w2 + ib * d * kk;
                        for (int64_t j = 0; j < d * kk; j++)
                            row[j] = v * src[j];
                    }
        }
    } else {
        rc = FAIL("its tensors make no known adapter (LoRA, LoCon, LoHa, LoKr, full)");
    }
    own_free(&o);
    if (rc == IMG_ENOMEM) snprintf(err, errlen, "out of memory");
    return rc;
}
