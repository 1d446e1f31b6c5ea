/* weights.h - fetching named tensors from a safetensors file as f32, with shape checks. */
#ifndef IMGAPI_ENGINE_MODELS_WEIGHTS_H
#define IMGAPI_ENGINE_MODELS_WEIGHTS_H
#include "engine/io/safetensors.h"
#include "engine/kernels/gemm.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const st_file_t *file;
    char prefix[160];
    char err[256]; /* first error, if any */
    int failed;
    int rc; /* its status: IMG_ENOMEM when memory ran out, IMG_EFORMAT for the file's content */
    int bf16; /* precision bf16: matrices are repacked as bfloat16 pairs (w_pairs) */
    int q8;   /* matrices and convolutions held as 8-bit panels whatever the file stores */
} wload_t;

/* How a network's loader packs its weights (the wflags of unet_load, vae_load, clip_load ...):
 * W_BF16, precision bf16 (bfloat16 pairs); W_Q8, 8-bit panels for every matrix (a model's
 * `weights = q8`). A GGUF Q8_0 matrix is held as 8-bit panels either way. With both, the
 * matrices stay 8-bit and run on the dot-product kernels, each slice rounded to pairs as it is
 * used (gemm.c). */
enum { W_BF16 = 1, W_Q8 = 2 };
#define W_LOAD(f, wflags) {.file = (f), .bf16 = ((wflags) & W_BF16) != 0, .q8 = ((wflags) & W_Q8) != 0}

/* Records an error (the first one only). */
void w_fail(wload_t *wl, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Records a failed packing of tensor name (rc from gemm_pack*, conv2d_init*), if rc is one. */
void w_fail_pack(wload_t *wl, int rc, const char *name);
/* The status of a network's load that ended with rc: the first recorded error's, else rc (a
 * structure that did not fit, without a recorded error, is IMG_EFORMAT). Writes "what: reason"
 * to err; reason is the recorded message, "out of memory", or structure. */
int w_report(const wload_t *wl, int rc, const char *what, const char *structure, char *err,
             size_t errlen);

/* With wl->bf16, repacks w (packed from tensor name) as bfloat16 pairs; records a failure.
 * rc: the packing's status, returned as it is when not 0. */
int w_pairs(wload_t *wl, int rc, gemm_w_t *w, const char *name);
/* Finds prefix+name; NULL (and records the error) when missing. */
const st_tensor_t *w_find(wload_t *wl, const char *name);
int w_has(const wload_t *wl, const char *name);
/* A new malloc'd f32 copy of a tensor of exactly `numel` elements (0 = any); NULL on error. */
float *w_f32(wload_t *wl, const char *name, int64_t numel);
/* Packs a linear weight [n, k] (checked) for gemm; an F16 tensor is packed as halves straight
 * from the file (gemm_pack_16bit), a BF16 one too, other types through an f32 copy; a Q8_0
 * tensor, or any with wl->q8, as 8-bit panels. */
int w_linear(wload_t *wl, const char *name, int n, int k, gemm_w_t *out);
/* The same for nparts weights [n_each, k] stacked into one [nparts * n_each, k] (q, k and v as
 * one projection). */
#define W_MAX_PARTS 4
int w_linear_cat(wload_t *wl, const char *const *names, int nparts, int n_each, int k, gemm_w_t *out);

#endif
