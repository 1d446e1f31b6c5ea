/* builtin_data.S - the built-in model's files (models/imgapi-shapes), compiled into the binary
 * so `imgapi serve` generates images with no files installed. Paths are relative to the
 * repository root, where make runs; builtin.c lists them by name. */
#include "common/incbin.h"

    .section .rodata
INCBIN(imgapi_builtin_shapes_model, "models/imgapi-shapes/model.safetensors", 64)
INCBIN(imgapi_builtin_shapes_decoder, "models/imgapi-shapes/decoder.safetensors", 64)
INCBIN(imgapi_builtin_shapes_encoder, "models/imgapi-shapes/encoder.safetensors", 64)
INCBIN(imgapi_builtin_shapes_vocab, "models/imgapi-shapes/vocab.json", 64)
INCBIN(imgapi_builtin_shapes_merges, "models/imgapi-shapes/merges.txt", 64)

    .section .note.GNU-stack,"",@progbits
