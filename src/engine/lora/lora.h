/* lora.h - adapters (LoRA, LoCon, LoHa, LoKr, full, with DoRA's dora_scale) merged into a model:
 * the result is an overlay of the base file (st_overlay) in which every weight an adapter names
 * is replaced by W + strength · ΔW (lora_delta.h), summed over the adapters in order, so the
 * model's loaders read it as they read the base. Merged weights keep the base tensor's type
 * (F16 stays F16) and are exact in f32 for an f32 base.
 * DoRA: with dora_scale m, W_dora = m · V / |V| where V = W + ΔW and |V| is the norm of each
 * input column (m [1, in, ...]) or output row (m [out, 1, ...]); the weight becomes
 * W + strength · (W_dora - W) (LyCORIS's apply_dora_scale). */
#ifndef IMGAPI_ENGINE_LORA_LORA_H
#define IMGAPI_ENGINE_LORA_LORA_H
#include "engine/io/safetensors.h"
#include <stddef.h>

typedef struct {
    const char *path; /* the adapter file */
    const char *name; /* how errors name it (the request's name); NULL: the path */
    float scale;      /* strength: 0 leaves the model as it is, 1 applies it fully */
} lora_spec_t;

typedef struct {
    int modules; /* adapter modules in the file */
    int applied; /* of them, those naming a weight of the model (the others are skipped) */
    char first_skipped[128];
} lora_stats_t;

/* Merges n adapters into base: *out an overlay of base (base must outlive it). stats: n
 * entries, or NULL. IMG_EIO when a file cannot be read; IMG_EFORMAT when it is no adapter, when a
 * module's shapes do not fit the weight it names (an adapter for another model), or when none of
 * a file's modules names a weight of this model; IMG_ENOMEM. The reason, naming the adapter, in
 * err: by its name when it has one (never then by its path: the message may go to a client).
 * threads: how many merge the changed weights (at least 1). */
int lora_apply(const st_file_t *base, const lora_spec_t *specs, int n, int threads, st_file_t **out,
               lora_stats_t *stats, char *err, size_t errlen);

#endif
