/* static_data.S - files the server answers as they are (the OpenAPI document, the playground
 * page), compiled into the binary. Paths are relative to the repository root, where make runs. */
#include "common/incbin.h"

    .section .rodata
INCBIN(imgapi_static_openapi, "src/server/openapi.json", 16)
INCBIN(imgapi_static_playground, "src/server/playground.html", 16)

    .section .note.GNU-stack,"",@progbits
