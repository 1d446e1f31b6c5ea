/* cmd_convert.c - `imgapi convert IN OUT [--type T]`: a checkpoint (.safetensors, .gguf, or a
 * diffusers folder) rewritten as one .safetensors or .gguf file in another precision. */
#include "cli/cli.h"
#include "common/status.h"
#include "engine/io/gguf.h"
#include "engine/io/safetensors.h"
#include "engine/kernels/half.h"
#include "engine/tensor/dtype.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { C_TYPE, C_NOPTS };
static const cli_opt_t CONVERT_OPTS[C_NOPTS] = {
    {"type", 0, "T", NULL, NULL, NULL,
     "f16 (default), bf16, f32, q8_0 (GGUF only: Q8_0 blocks for matrices, halves for the rest) or "
     "q4_k (GGUF only: Q4_K for matrices with rows of 256k values, Q8_0 for other matrices)"},
};
const cli_opts_t CLI_CONVERT_OPTS = {CONVERT_OPTS, C_NOPTS};

static int ends_with(const char *s, const char *suffix) {
    size_t l = strlen(s), k = strlen(suffix);
    return l >= k && !strcmp(s + l - k, suffix);
}

/* The safetensors file: float tensors in type (f32, f16 or bf16), the others as they are. */
static int write_safetensors(const st_file_t *f, const char *type, const char *path, char *err, size_t errlen) {
    st_dtype_t to = !strcmp(type, "f32") ? ST_F32 : !strcmp(type, "bf16") ? ST_BF16 : ST_F16;
    st_writer_t *w = NULL;
    int rc = st_writer_new(&w);
    float *x = NULL;
    void *conv = NULL;
    for (size_t i = 0; !rc && i < st_count(f); i++) {
        const st_tensor_t *t = st_get(f, i);
        int is_float = t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64 ||
                       ST_IS_BLOCK(t->dtype);
        if (!is_float || t->dtype == to) {
            rc = st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data);
            continue;
        }
        size_t n = (size_t)(t->numel ? t->numel : 1);
        float *p = realloc(x, sizeof(float) * n);
        void *q = p ? realloc(conv, n * (to == ST_F32 ? 4 : 2)) : NULL;
        if (p) x = p;
        if (q) conv = q;
        if (!p || !q) {
            rc = IMG_ENOMEM;
            break;
        }
        if (st_to_f32(t, x, (size_t)t->numel)) {
            rc = IMG_EFORMAT;
            break;
        }
        if (to == ST_F32) memcpy(conv, x, sizeof(float) * (size_t)t->numel);
        else if (to == ST_F16) half_from_float(cpu_best_isa(), x, conv, (size_t)t->numel);
        else
            for (int64_t k = 0; k < t->numel; k++) ((uint16_t *)conv)[k] = f32_to_bf16(x[k]);
        rc = st_writer_add(w, t->name, to, t->ndim, t->shape, conv);
    }
    static const char *const KEEP[] = {"config", "imgapi.native"};
    for (size_t k = 0; !rc && k < 2; k++)
        if (st_metadata(f, KEEP[k])) rc = st_writer_set_metadata(w, KEEP[k], st_metadata(f, KEEP[k]));
    if (!rc) rc = st_writer_save(w, path);
    if (rc)
        snprintf(err, errlen, "%s", rc == IMG_ENOMEM ? "out of memory" : rc == IMG_EFORMAT ? "a tensor cannot be read"
                                                                                           : "cannot write the file");
    free(x);
    free(conv);
    st_writer_free(w);
    return rc;
}

int cmd_convert(int argc, char **argv, const cli_env_t *env) {
    (void)env;
    config_t cfg;
    config_defaults(&cfg);
    const char *v[C_NOPTS], *pos[2];
    int npos;
    int rc = cli_parse(argc, argv, &CLI_CONVERT_OPTS, NULL, &cfg, v, pos, &npos, 2);
    if (rc) return rc;
    if (npos != 2) {
        fprintf(stderr, "imgapi: convert takes an input and an output\n");
        return cli_usage_error("convert");
    }
    const char *type = v[C_TYPE] ? v[C_TYPE] : "f16";
    int gguf = ends_with(pos[1], ".gguf");
    if (!gguf && !ends_with(pos[1], ".safetensors")) {
        fprintf(stderr, "imgapi: the output must end in .gguf or .safetensors\n");
        return 2;
    }
    int quant = !strcmp(type, "q8_0") || !strcmp(type, "q4_k");
    if (strcmp(type, "f16") && strcmp(type, "bf16") && strcmp(type, "f32") && (!quant || !gguf)) {
        fprintf(stderr, "imgapi: --type must be f16, bf16, f32%s\n",
                gguf ? ", q8_0 or q4_k" : " (q8_0 and q4_k need a .gguf output)");
        return 2;
    }
    st_file_t *f = NULL;
    char err[512];
    if (st_open(pos[0], &f, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    rc = gguf ? gguf_write(f, type, pos[1], err, sizeof err) : write_safetensors(f, type, pos[1], err, sizeof err);
    size_t n = st_count(f);
    st_close(f);
    if (rc) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    fprintf(stderr, "imgapi: wrote %s (%zu tensors, %s)\n", pos[1], n, type);
    return 0;
}
