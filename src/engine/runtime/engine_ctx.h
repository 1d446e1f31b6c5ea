/* engine_ctx.h - a kernel context (thread pool + instruction set) built from settings. */
#ifndef IMGAPI_ENGINE_RUNTIME_ENGINE_CTX_H
#define IMGAPI_ENGINE_RUNTIME_ENGINE_CTX_H
#include "engine/kernels/kctx.h"
#include <stddef.h>

/* threads 0 = one per online CPU; isa "auto" or a level name; precision NULL/"" or "fp32", or
 * "bf16" (products of bfloat16 weights and activations summed in f32: needs the avx512 level on
 * a CPU with AVX512-BF16, or the portable one, whose C kernels do the same arithmetic slowly).
 * The caller frees with kctx_destroy. Fails (with a reason) when the CPU lacks the requested
 * level or the level cannot run the precision. */
int kctx_create(int threads, const char *isa, const char *precision, kctx_t *out, char *err,
                size_t errlen);
void kctx_destroy(kctx_t *kc);

#endif
