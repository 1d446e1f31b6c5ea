/* builtin.h - files compiled into the binary (imgapi's built-in model), addressed by paths of
 * the form "builtin:NAME", e.g. "builtin:imgapi-shapes/model.safetensors". The engine's file
 * readers (safetensors, tokenizer) accept such paths wherever they accept a file path. */
#ifndef IMGAPI_ENGINE_IO_BUILTIN_H
#define IMGAPI_ENGINE_IO_BUILTIN_H
#include <stddef.h>

#define BUILTIN_PREFIX "builtin:"

/* 1 when path names a built-in file (starts with "builtin:"). */
int builtin_is(const char *path);
/* The bytes of a built-in file (static, read-only, 64-byte aligned): IMG_OK or IMG_ENOTFOUND. */
int builtin_find(const char *path, const void **data, size_t *len);

#endif
