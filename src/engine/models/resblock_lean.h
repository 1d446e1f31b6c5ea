/* resblock_lean.h - the VAE decoder's ResNet blocks without a normalised copy of their input:
 * conv1 runs a strip of rows at a time on rows normalised as they are read (conv_rows.h), and a
 * block that halves its channels with a skip convolution runs entirely inside its input's memory.
 * Same arithmetic as resblock_forward up to the strips' f32 rounding in Winograd's tiles. */
#ifndef IMGAPI_ENGINE_MODELS_RESBLOCK_LEAN_H
#define IMGAPI_ENGINE_MODELS_RESBLOCK_LEAN_H
#include "engine/models/blocks.h"

/* Whether r can run lean: no time embedding, 3x3 convolutions, and channels that stay (cin ==
 * cout, no skip) or halve with a skip convolution (cin == 2 cout). */
int resblock_lean_ok(const resblock_t *r);
/* Rows per strip for r on a w-wide, h-high image within about budget floats, and the scratch
 * (floats) resblock_lean_forward then needs. */
int resblock_lean_rows(const resblock_t *r, int h, int w, size_t budget);
size_t resblock_lean_scratch(const resblock_t *r, int w, int rows);
/* x: [h*w, cin], in memory of h*w*cin floats that the block may overwrite. Returns where the
 * output [h*w, cout] is: x itself when cin == cout (hbuf, h*w*cout floats apart from x, then holds
 * the block's middle), or the second half of x's memory when cin == 2 cout (hbuf unused). */
float *resblock_lean_forward(const kctx_t *kc, const resblock_t *r, float *x, int h, int w,
                             float *hbuf, float *scratch, int rows);

#endif
