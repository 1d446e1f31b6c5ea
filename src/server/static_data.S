/* static_data.S - files the server answers as they are (the OpenAPI document, the playground
 * page), compiled into the binary. Paths are relative to the repository root, where make runs. */
#define FILE(sym, path)                \
    .balign 16;                        \
    .global imgapi_static_##sym;       \
imgapi_static_##sym:                   \
    .incbin path;                      \
    .global imgapi_static_##sym##_end; \
imgapi_static_##sym##_end:             \
    .byte 0

    .section .rodata
FILE(openapi, "src/server/openapi.json")
FILE(playground, "src/server/playground.html")

    .section .note.GNU-stack,"",@progbits
