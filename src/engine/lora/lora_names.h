/* lora_names.h - the names adapter files give a model's weights. A LoRA names the module it
 * changes in one of several schemes: kohya's (`lora_unet_<path with _>`, the path either the
 * ldm checkpoint's, "input_blocks_1_1_proj_in", or diffusers',
 * "down_blocks_0_attentions_0_proj_in"; `lora_te_`/`lora_te1_` for the text encoder) or
 * diffusers/PEFT's (`unet.<diffusers path>`, `text_encoder.<path>`). This index maps every such
 * name to the checkpoint tensor it means. */
#ifndef IMGAPI_ENGINE_LORA_LORA_NAMES_H
#define IMGAPI_ENGINE_LORA_LORA_NAMES_H
#include "engine/io/safetensors.h"
#include <stddef.h>

typedef struct lora_names lora_names_t;

/* Builds the index of base's weights (every "<module>.weight" of its UNet and of its text
 * encoders: the HF layout's by their names, OpenCLIP's by the HF names adapters give them, q, k
 * and v as row blocks of the fused in_proj). IMG_ENOMEM when memory runs out. */
int lora_names_build(const st_file_t *base, lora_names_t **out);
void lora_names_free(lora_names_t *n);
/* The checkpoint tensor an adapter's module name means, or NULL; *rows > 0 when the module is
 * only rows row0 .. row0 + rows - 1 of it (0: all of it). */
const st_tensor_t *lora_names_find(const lora_names_t *n, const char *module, int64_t *row0, int64_t *rows);
/* The diffusers path of an ldm UNet module path ("input_blocks.1.1.proj_in" ->
 * "down_blocks.0.attentions.0.proj_in") for a UNet with layers_per_block res blocks per level;
 * 0 and the path in out, or -1 when it has none. */
int lora_ldm_to_diffusers(const char *ldm, int layers_per_block, char *out, size_t outlen);

#endif
