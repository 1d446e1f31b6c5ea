/* clip.h - CLIP text encoders: SD1's CLIP-L (HF key layout, quick-GELU), SD2's OpenCLIP-H
 * (OpenCLIP layout, GELU) and SDXL's pair, detected from tensor names and shapes. */
#ifndef IMGAPI_ENGINE_MODELS_CLIP_H
#define IMGAPI_ENGINE_MODELS_CLIP_H
#include "engine/io/safetensors.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/kctx.h"
#include <stdint.h>

typedef enum { CLIP_LAYOUT_HF = 0, CLIP_LAYOUT_OPENCLIP } clip_layout_t;

typedef struct clip clip_t;

typedef struct {
    clip_layout_t layout;
    int width, heads, layers, context, vocab;
    int proj_dim; /* 0 when the file has no text projection */
    int gelu;     /* 1: exact GELU, 0: quick-GELU */
} clip_info_t;

/* Lists the text-encoder prefixes present in a file (up to max); returns how many. */
int clip_find(const st_file_t *f, char prefixes[][160], clip_layout_t *layouts, int max);
/* Loads the encoder under prefix (NULL: the first one found). Weights are copied and packed
 * (wflags: W_BF16, W_Q8 of weights.h); the file may be closed afterwards. */
int clip_load(const st_file_t *f, const char *prefix, int wflags, clip_t **out, char *err,
              size_t errlen);
void clip_free(clip_t *c);
const clip_info_t *clip_info(const clip_t *c);

/* Outputs of one 77-token sequence; any pointer may be NULL. Sizes: hidden_all
 * [layers+1][context][width], last/penultimate/penultimate_ln [context][width],
 * pooled [width] (at the EOT position of last), pooled_proj [proj_dim]. */
typedef struct {
    float *hidden_all, *last, *penultimate, *penultimate_ln, *pooled, *pooled_proj;
} clip_out_t;

/* tokens: context ids; IMG_EINVAL when an id is outside the vocabulary. No allocation. */
int clip_forward(clip_t *c, const kctx_t *kc, const int32_t *tokens, clip_out_t *out);
/* The same where a negative id -1 - k stands for row k of extra [nextra][width] (a textual
 * inversion embedding's vector) instead of a vocabulary row. */
int clip_forward_ext(clip_t *c, const kctx_t *kc, const int32_t *tokens, const float *extra, int nextra,
                     clip_out_t *out);

#endif
