/* builtin_data.S - the built-in model's files (models/imgapi-shapes), compiled into the binary
 * so `imgapi serve` generates images with no files installed. Paths are relative to the
 * repository root, where make runs; builtin.c lists them by name. */
#define FILE(sym, path)            \
    .balign 64;                    \
    .global imgapi_builtin_##sym;  \
imgapi_builtin_##sym:              \
    .incbin path;                  \
    .global imgapi_builtin_##sym##_end; \
imgapi_builtin_##sym##_end:        \
    .byte 0

    .section .rodata
FILE(shapes_model, "models/imgapi-shapes/model.safetensors")
FILE(shapes_decoder, "models/imgapi-shapes/decoder.safetensors")
FILE(shapes_vocab, "models/imgapi-shapes/vocab.json")
FILE(shapes_merges, "models/imgapi-shapes/merges.txt")

    .section .note.GNU-stack,"",@progbits
