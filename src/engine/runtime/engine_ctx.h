/* engine_ctx.h - a kernel context (thread pool + instruction set) built from settings. */
#ifndef IMGAPI_ENGINE_RUNTIME_ENGINE_CTX_H
#define IMGAPI_ENGINE_RUNTIME_ENGINE_CTX_H
#include "engine/kernels/kctx.h"
#include <stddef.h>

/* threads 0 = one per online CPU; isa "auto" or a level name. The caller frees with
 * kctx_destroy. Fails (with a reason) when the CPU lacks the requested level. */
int kctx_create(int threads, const char *isa, kctx_t *out, char *err, size_t errlen);
void kctx_destroy(kctx_t *kc);

#endif
