/* conv_rows.h - a 3x3, stride-1, pad-1 convolution of a group-normalised image computed a strip
 * of rows at a time, so that neither the normalised copy of the image nor (when the output has no
 * more channels than the input) a separate output image is ever stored: each strip's rows, with
 * the row above and the row below it, are normalised into a small buffer and convolved there.
 * The VAE decoder's top level runs its resblocks this way (vae.c): a 512x512 decode needs 320 MiB
 * of work memory instead of 512 MiB. Each strip computes two rows it does not keep (the strip's
 * edges), 2 / rows more multiply-adds. */
#ifndef IMGAPI_ENGINE_KERNELS_CONV_ROWS_H
#define IMGAPI_ENGINE_KERNELS_CONV_ROWS_H
#include "engine/kernels/conv.h"
#include "engine/kernels/ops_mt.h"

/* Rows per strip for a w-wide image of cin -> cout channels within about budget floats of
 * strip buffers (at least 8 rows, at most h). */
int conv_rows_pick(int h, int w, int cin, int cout, size_t budget);
/* Floats of scratch conv_rows needs for c on w-wide images in strips of `rows` rows. */
size_t conv_rows_scratch(const conv2d_t *c, int w, int rows);
/* y (+)= conv(norm(x)) over an h x w image ([h*w, cin] -> [h*w, cout]); norm NULL: x as it is.
 * y may be x itself when c->cout <= c->cin and accumulate is 0: each strip's output is written
 * only over rows already read, and the one row the next strip still needs is kept in the
 * scratch. c must be 3x3, stride 1, pad 1. */
void conv_rows(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w,
               const gn_affine_t *norm, float *y, int accumulate, float *scratch, int rows);
/* The input buffer of one strip (rows r0 .. r1 - 1 of x): tin gets r1 - r0 + 2 rows, the row above
 * (carry, already normalised; zeros at the top edge), the strip's rows and the row below
 * (zeros at the bottom edge), normalised by norm (NULL: copied). */
void conv_rows_fill(const kctx_t *kc, const float *x, int h, int w, int cin, int r0, int r1,
                    const gn_affine_t *norm, const float *carry, float *tin);

#endif
