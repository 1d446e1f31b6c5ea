/* embeddings.h - textual-inversion embeddings: a folder of NAME.safetensors files, each a few
 * vectors in a text encoder's embedding space, addressed in prompts by NAME (a whole word,
 * case-insensitive, as AUTOMATIC1111 does). Formats: "emb_params" [n, width] (A1111; SD 1.x and
 * 2.x), "clip_l" + "clip_g" (SDXL: one set per encoder), "string_to_param.*" (A1111's .pt
 * converted), or a single tensor named after its token (diffusers' learned_embeds). */
#ifndef IMGAPI_ENGINE_MODELS_EMBEDDINGS_H
#define IMGAPI_ENGINE_MODELS_EMBEDDINGS_H
#include "engine/text/tokenizer.h"
#include <stddef.h>
#include <stdint.h>

#define TI_MAX_ENCODERS 2
#define TI_NAME_MAX 64

typedef struct {
    char name[TI_NAME_MAX + 1];
    int nvec;
    float *vec[TI_MAX_ENCODERS]; /* per text encoder: [nvec][width] (owned) */
} ti_embedding_t;

typedef struct {
    ti_embedding_t *e; /* owned */
    int n;
} ti_set_t;

/* Loads the embeddings of dir that fit encoders of widths w[0..nte-1]; files of other shapes
 * (another model family) or names are skipped and counted in *skipped. IMG_EIO when dir cannot
 * be read, IMG_ENOMEM. */
int ti_load_dir(const char *dir, const int *widths, int nte, ti_set_t *out, int *skipped, char *err,
                size_t errlen);
void ti_free(ti_set_t *s);
/* BPE ids of prompt (tok_encode's) with every embedding's name replaced by its vectors: a
 * negative id -1 - k is row k of extra[e] ([*nrows][widths[e]], malloc'd, one per encoder,
 * the caller frees them and *ids). */
int ti_encode(const ti_set_t *s, const tokenizer_t *tok, const char *prompt, int nte, const int *widths,
              int32_t **ids, size_t *n, float **extra, int *nrows);

#endif
