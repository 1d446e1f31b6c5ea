/* gguf.h - reading GGUF files (the format of llama.cpp's ggml; stable-diffusion.cpp writes SD
 * checkpoints in it under their usual tensor names) as safetensors-like files.
 *
 * Layout (ggml's docs/gguf.md): "GGUF", version (2 or 3), tensor count, metadata count, the
 * metadata key/values, the tensor infos (name, dims innermost first, type, offset), then the
 * data at general.alignment (32). Every tensor is read in place: F32, F16, BF16, F64 and the
 * integers as those dtypes, the block types Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and the K quants Q2_K
 * to Q6_K as ST_Q8_0 ... ST_Q6_K (the loaders hold their matrices as 8-bit panels). Other types (the IQ quants) are refused naming the tensor. */
#ifndef IMGAPI_ENGINE_IO_GGUF_H
#define IMGAPI_ENGINE_IO_GGUF_H
#include "engine/io/safetensors.h"
#include <stddef.h>

/* Bytes numel values of block type t (ST_Q8_0 ... ST_Q6_K) take; 0 when numel is no multiple
 * of its block's values. */
size_t gguf_block_bytes(st_dtype_t t, int64_t numel);
/* The n values of blocks of type t at src (gguf_block_bytes(t, n) bytes) as floats (ggml-quants.c's
 * dequantization); IMG_EINVAL when n is no multiple of the block. */
int gguf_block_to_f32(st_dtype_t t, const void *src, size_t n, float *out);

/* Parses a GGUF image of len bytes (the buffer must outlive the result) into *out. IMG_EFORMAT
 * or IMG_EUNSUPPORTED with the reason in err, IMG_ENOMEM. */
int gguf_parse(const void *buf, size_t len, st_file_t **out, char *err, size_t errlen);

/* Writes f's tensors as GGUF version 3 (alignment 32) to path: every float tensor in type
 * "f32", "f16", "bf16", "q8_0" (Q8_0 for matrices whose rows are a multiple of 32 values,
 * halves for the rest) or "q4_k" (Q4_K for matrices whose rows are a multiple of 256, Q8_0 for
 * those of 32, halves for the rest; gguf_quant.h), other tensors as they are where GGUF has their type; the metadata keys
 * "config" and "imgapi.native" are kept as strings. IMG_EINVAL for an unknown type, IMG_EIO,
 * IMG_ENOMEM, IMG_EUNSUPPORTED for a tensor GGUF cannot hold; the reason in err. */
int gguf_write(const st_file_t *f, const char *type, const char *path, char *err, size_t errlen);

#endif
