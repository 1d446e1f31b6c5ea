/* gguf.h - reading GGUF files (the format of llama.cpp's ggml; stable-diffusion.cpp writes SD
 * checkpoints in it under their usual tensor names) as safetensors-like files.
 *
 * Layout (ggml's docs/gguf.md): "GGUF", version (2 or 3), tensor count, metadata count, the
 * metadata key/values, the tensor infos (name, dims innermost first, type, offset), then the
 * data at general.alignment (32). F32, F16 and BF16 tensors are read in place; the block types
 * Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 are expanded to F16 at open (each value d * q (+ m) rounded
 * to half). Other types (the K quants) are refused naming the tensor. */
#ifndef IMGAPI_ENGINE_IO_GGUF_H
#define IMGAPI_ENGINE_IO_GGUF_H
#include "engine/io/safetensors.h"
#include <stddef.h>

/* Parses a GGUF image of len bytes (the buffer must outlive the result) into *out. IMG_EFORMAT
 * or IMG_EUNSUPPORTED with the reason in err, IMG_ENOMEM. */
int gguf_parse(const void *buf, size_t len, st_file_t **out, char *err, size_t errlen);

#endif
