/* diffusers.h - a diffusers folder (model_index.json, unet/, vae/, text_encoder/,
 * text_encoder_2/, tokenizer/) read as one single-file checkpoint in the original LDM key layout,
 * so that every loader, probe and adapter sees it as it sees a .safetensors file.
 *
 * Each part's weights: PART/diffusion_pytorch_model.safetensors or PART/model.safetensors, else
 * their fp16 variant (*.fp16.safetensors), else the shards a *.safetensors.index.json lists.
 * Names are mapped to the LDM layout (the UNet's blocks by layers_per_block of unet/config.json,
 * the VAE's levels, reversed for the decoder); a text encoder whose config says hidden_act gelu
 * (OpenCLIP: SD 2.x, SDXL's second) is rewritten in OpenCLIP's layout (q, k and v fused into
 * in_proj, text_projection transposed), a quick_gelu one (CLIP-L) keeps the HF layout. The UNet's
 * heads and native size go to the metadata as a single file's config would give them. */
#ifndef IMGAPI_ENGINE_IO_DIFFUSERS_H
#define IMGAPI_ENGINE_IO_DIFFUSERS_H
#include "engine/io/safetensors.h"
#include <stddef.h>

/* 1 when dir is a diffusers folder (it has model_index.json or unet/), or a component's own
 * folder (config.json beside diffusion_pytorch_model.safetensors: a VAE such as SDXL's fp16
 * fix), which opens as that VAE under the LDM names. */
int diffusers_is_folder(const char *dir);
/* Opens folder dir as a checkpoint (close with st_close). IMG_EIO / IMG_EFORMAT / IMG_ENOMEM
 * with the reason in err. */
int diffusers_open(const char *dir, st_file_t **out, char *err, size_t errlen);

/* A VAE file in diffusers' layout ("decoder.up_blocks.*") under the LDM names
 * (first_stage_model.*): *out takes vf over (closing it with itself). When vf is not in that
 * layout, *out stays NULL and vf is the caller's still. */
int diffusers_vae_view(st_file_t *vf, st_file_t **out, char *err, size_t errlen);

#endif
