/* conv_rows.c - strip-wise convolution of a normalised image (see conv_rows.h). */
#include "engine/kernels/conv_rows.h"
#include "engine/kernels/ops.h"
#include <string.h>

int conv_rows_pick(int h, int w, int cin, int cout, size_t budget) {
    size_t per_row = (size_t)w * (size_t)(cin + cout);
    size_t fit = per_row ? budget / per_row : 0;
    int rows = fit > (size_t)h + 2 ? h : (int)fit - 2;
    if (rows < 8) rows = 8;
    return rows < h ? rows : h;
}

size_t conv_rows_scratch(const conv2d_t *c, int w, int rows) {
    /* the strip's input, its output, the carried row */
    return (size_t)(rows + 2) * w * (size_t)c->cin + (size_t)(rows + 2) * w * (size_t)c->cout +
           (size_t)w * c->cin;
}

void conv_rows_fill(const kctx_t *kc, const float *x, int h, int w, int cin, int r0, int r1,
                    const gn_affine_t *norm, const float *carry, float *tin) {
    size_t row = (size_t)w * cin;
    if (r0 == 0)
        memset(tin, 0, sizeof(float) * row);
    else
        memcpy(tin, carry, sizeof(float) * row);
    int last = r1 < h ? r1 + 1 : r1; /* with the row below, where there is one */
    const float *src = x + (size_t)r0 * row;
    float *dst = tin + row;
    if (norm)
        mt_affine_apply(kc, norm, src, (last - r0) * w, dst);
    else
        memcpy(dst, src, sizeof(float) * row * (size_t)(last - r0));
    if (r1 == h) memset(tin + (size_t)(r1 - r0 + 1) * row, 0, sizeof(float) * row);
}

void conv_rows(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w,
               const gn_affine_t *norm, float *y, int accumulate, float *scratch, int rows) {
    size_t in_row = (size_t)w * c->cin, out_row = (size_t)w * c->cout;
    float *tin = scratch, *tout = tin + (size_t)(rows + 2) * in_row,
          *carry = tout + (size_t)(rows + 2) * out_row;
    for (int r0 = 0; r0 < h; r0 += rows) {
        int r1 = r0 + rows < h ? r0 + rows : h, n = r1 - r0;
        conv_rows_fill(kc, x, h, w, c->cin, r0, r1, norm, carry, tin);
        conv2d_forward(kc, c, tin, n + 2, w, tout, 0);
        /* the strip's last row, normalised, is the next strip's row above: kept before y may
         * overwrite it */
        if (r1 < h) memcpy(carry, tin + (size_t)n * in_row, sizeof(float) * in_row);
        float *dst = y + (size_t)r0 * out_row;
        const float *src = tout + out_row; /* the strip's first row is its second computed one */
        if (accumulate)
            op_add(dst, src, (size_t)n * out_row);
        else
            memmove(dst, src, sizeof(float) * (size_t)n * out_row);
    }
}
