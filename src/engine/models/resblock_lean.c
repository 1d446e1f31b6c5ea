/* resblock_lean.c - ResNet blocks of the VAE decoder in their input's memory (see resblock_lean.h).
 */
#include "engine/models/resblock_lean.h"
#include "engine/kernels/conv_rows.h"
#include "engine/kernels/ops_mt.h"
#include <string.h>

int resblock_lean_ok(const resblock_t *r) {
    int conv3 = r->conv1.kh == 3 && r->conv1.kw == 3 && r->conv1.stride == 1 && r->conv1.pad == 1;
    int shape = r->has_skip ? r->cin == 2 * r->cout : r->cin == r->cout;
    return !r->has_emb && conv3 && shape && r->cin <= MT_MAX_CHANNELS;
}

int resblock_lean_rows(const resblock_t *r, int h, int w, size_t budget) {
    /* the skip path's strip output rides along with conv1's */
    return conv_rows_pick(h, w, r->cin, r->has_skip ? 2 * r->cout : r->cout, budget);
}

size_t resblock_lean_scratch(const resblock_t *r, int w, int rows) {
    size_t s = conv_rows_scratch(&r->conv1, w, rows);
    return r->has_skip ? s + (size_t)rows * w * r->cout : s; /* the skip path's strip */
}

/* Slots of m floats: [h0 s0 h1 s1 ... h(k-1) s(k-1)] -> [h0 .. h(k-1) s0 .. s(k-1)], each cycle of
 * the permutation moved through tmp (m floats) from its smallest slot. */
static void unzip_slots(float *base, int k, size_t m, float *tmp) {
    int n = 2 * k;
    for (int lead = 1; lead < n - 1; lead++) {
        /* the slot whose contents go to slot t is src(t) */
#define SRC(t) ((t) < k ? 2 * (t) : 2 * ((t)-k) + 1)
        int t = SRC(lead), smallest = 1;
        while (t != lead && smallest) {
            smallest = t > lead;
            t = SRC(t);
        }
        if (!smallest) continue;
        memcpy(tmp, base + (size_t)lead * m, sizeof(float) * m);
        int j = lead;
        for (int s = SRC(j); s != lead; j = s, s = SRC(j))
            memcpy(base + (size_t)j * m, base + (size_t)s * m, sizeof(float) * m);
        memcpy(base + (size_t)j * m, tmp, sizeof(float) * m);
#undef SRC
    }
}

/* cin == 2 cout with a skip convolution: per strip, conv1 of the normalised rows and the skip
 * convolution of the raw rows, both written over the strip's own rows as [conv1 | skip]; the
 * halves are then gathered ([conv1 of all rows | skip of all rows]), and conv2 of the normalised
 * first half is added to the second. */
static float *skip_in_place(const kctx_t *kc, const resblock_t *r, float *x, int h, int w,
                            float *scratch, int rows, const gn_affine_t *n1) {
    size_t in_row = (size_t)w * r->cin, out_row = (size_t)w * r->cout, hw = (size_t)h * w;
    float *tin = scratch, *tout = tin + (size_t)(rows + 2) * in_row;
    float *carry = tout + (size_t)(rows + 2) * out_row, *ts = carry + in_row;
    for (int r0 = 0; r0 < h; r0 += rows) {
        int r1 = r0 + rows < h ? r0 + rows : h, n = r1 - r0;
        conv_rows_fill(kc, x, h, w, r->cin, r0, r1, n1, carry, tin);
        conv2d_forward(kc, &r->conv1, tin, n + 2, w, tout, 0);
        conv2d_forward(kc, &r->skip, x + (size_t)r0 * in_row, n, w, ts, 0);
        if (r1 < h) memcpy(carry, tin + (size_t)n * in_row, sizeof(float) * in_row);
        float *chunk = x + (size_t)r0 * in_row; /* n * in_row = 2 n * out_row floats */
        memcpy(chunk, tout + out_row, sizeof(float) * (size_t)n * out_row);
        memcpy(chunk + (size_t)n * out_row, ts, sizeof(float) * (size_t)n * out_row);
    }
    int full = h / rows, rest = h - full * rows;
    size_t m = (size_t)rows * out_row;
    unzip_slots(x, full, m, ts);
    if (rest) { /* the short last strip's conv1 rows go before the gathered skip rows */
        size_t mr = (size_t)rest * out_row;
        float *hl = x + 2 * (size_t)full * m;
        memcpy(ts, hl, sizeof(float) * mr);
        memmove(x + (size_t)full * m + mr, x + (size_t)full * m, sizeof(float) * (size_t)full * m);
        memcpy(x + (size_t)full * m, ts, sizeof(float) * mr);
    }
    float *mid = x, *out = x + hw * r->cout;
    mt_groupnorm(kc, mid, (int)hw, r->cout, 32, r->n2.g, r->n2.b, r->n2.eps, 1, mid);
    conv2d_forward(kc, &r->conv2, mid, h, w, out, 1);
    return out;
}

float *resblock_lean_forward(const kctx_t *kc, const resblock_t *r, float *x, int h, int w,
                             float *hbuf, float *scratch, int rows) {
    size_t hw = (size_t)h * w;
    gn_affine_t n1; /* 48 KiB */
    if (mt_groupnorm_affine(kc, x, (int)hw, r->cin, 32, r->n1.g, r->n1.b, r->n1.eps, 1, &n1))
        return NULL;
    if (r->has_skip) return skip_in_place(kc, r, x, h, w, scratch, rows, &n1);
    conv_rows(kc, &r->conv1, x, h, w, &n1, hbuf, 0, scratch, rows);
    mt_groupnorm(kc, hbuf, (int)hw, r->cout, 32, r->n2.g, r->n2.b, r->n2.eps, 1, hbuf);
    conv2d_forward(kc, &r->conv2, hbuf, h, w, x, 1);
    return x;
}
