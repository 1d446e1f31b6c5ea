/* engine_ctx.c - kernel context creation. */
#include "engine/runtime/engine_ctx.h"
#include "common/cpus.h"
#include "common/status.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kctx_create(int threads, const char *isa, const char *precision, kctx_t *out, char *err,
                size_t errlen) {
    out->pool = NULL;
    out->flops = NULL;
    out->scratch = NULL;
    out->bf16 = 0;
    out->amx = 0;
    if (!isa || !*isa || strcmp(isa, "auto") == 0) {
        out->isa = cpu_best_isa();
    } else {
        int i = cpu_isa_parse(isa);
        if (i < 0 || !cpu_supports((isa_t)i)) {
            snprintf(err, errlen, "instruction set '%s' is %s", isa, i < 0 ? "unknown" : "not supported by this CPU");
            return IMG_EINVAL;
        }
        out->isa = (isa_t)i;
    }
    if (precision && *precision && strcmp(precision, "fp32") != 0) {
        if (strcmp(precision, "bf16") != 0) {
            snprintf(err, errlen, "precision '%s' is unknown (fp32 or bf16)", precision);
            return IMG_EINVAL;
        }
        if (!(out->isa == ISA_AVX512 && cpu_has_avx512_bf16()) && out->isa != ISA_PORTABLE) {
            snprintf(err, errlen,
                     "precision 'bf16' needs a CPU with AVX512-BF16 (this one runs '%s'), or isa "
                     "'portable' (slow reference kernels)",
                     cpu_isa_name(out->isa));
            return IMG_EINVAL;
        }
        out->bf16 = 1;
        out->amx = out->isa == ISA_AVX512 && cpu_amx_enable();
    }
    if (threads <= 0) threads = cpus_usable();
    out->scratch = calloc(1, sizeof *out->scratch); /* owned by out, kctx_destroy frees */
    if (!out->scratch) {
        snprintf(err, errlen, "out of memory");
        return IMG_ENOMEM;
    }
    int rc = pool_create(threads, &out->pool);
    if (rc) kctx_destroy(out);
    return rc;
}

void kctx_destroy(kctx_t *kc) {
    pool_free(kc->pool);
    kc->pool = NULL;
    if (kc->scratch) arena_free(kc->scratch);
    free(kc->scratch);
    kc->scratch = NULL;
}
