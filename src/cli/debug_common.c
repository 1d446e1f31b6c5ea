/* debug_common.c - helpers shared by the debug components. */
#include "cli/debug.h"
#include "common/cpus.h"
#include "engine/kernels/ops.h"
#include "engine/lora/lora.h"
#include "engine/runtime/engine_ctx.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float *dbg_read_f32(const st_file_t *f, const char *name, int64_t *numel, const st_tensor_t **t) {
    *t = st_find(f, name);
    if (!*t) return NULL;
    float *p = malloc(sizeof(float) * (size_t)((*t)->numel + 1));
    if (p && st_to_f32(*t, p, (size_t)(*t)->numel)) {
        free(p);
        return NULL;
    }
    if (numel) *numel = (*t)->numel;
    return p;
}


void dbg_tap_write(void *user, const char *name, const float *x, int h, int w, int c) {
    tap_ctx_t *t = user;
    float *nchw = malloc(sizeof(float) * (size_t)h * w * c);
    char full[128];
    if (t->key[0])
        snprintf(full, sizeof full, "%s.intermediate.%s", t->key, name);
    else
        snprintf(full, sizeof full, "intermediate.%s", name);
    int64_t shape4[4] = {1, c, h, w}, shape2[2] = {1, c};
    if (!nchw) {
        t->failed = 1;
        return;
    }
    op_nhwc_to_nchw(x, h, w, c, nchw);
    if (h == 1 && w == 1 ? st_writer_add(t->w, full, ST_F32, 2, shape2, nchw)
                         : st_writer_add(t->w, full, ST_F32, 4, shape4, nchw))
        t->failed = 1;
    free(nchw);
}


int dbg_open(dbg_env_t *e, const config_t *cfg, const char *weights, const char *inputs, int q8) {
    memset(e, 0, sizeof *e);
    if (st_open(weights, &e->wf, e->err, sizeof e->err) ||
        st_open(inputs, &e->inf, e->err, sizeof e->err) ||
        kctx_create(cfg->threads, cfg->isa, cfg->precision, &e->kc, e->err, sizeof e->err) ||
        st_writer_new(&e->w)) {
        fprintf(stderr, "imgapi: %s\n", e->err[0] ? e->err : "out of memory");
        return 1;
    }
    e->wflags = (e->kc.bf16 ? W_BF16 : 0) | (q8 ? W_Q8 : 0);
    return 0;
}

int dbg_loras(st_file_t **wf, st_file_t **base, const char *const *loras, int n) {
    if (n <= 0) return 0;
    lora_spec_t *specs = calloc((size_t)n, sizeof *specs);
    char **paths = calloc((size_t)n, sizeof *paths);
    lora_stats_t *stats = calloc((size_t)n, sizeof *stats);
    int rc = !specs || !paths || !stats;
    for (int i = 0; !rc && i < n; i++) {
        const char *colon = strrchr(loras[i], ':');
        char *end = NULL;
        double s = colon && colon[1] ? strtod(colon + 1, &end) : 1.0;
        size_t pl = colon && end && !*end ? (size_t)(colon - loras[i]) : strlen(loras[i]);
        if (!(end && !*end)) s = 1.0;
        paths[i] = strndup(loras[i], pl);
        if (!paths[i]) rc = 1;
        specs[i] = (lora_spec_t){paths[i], NULL, (float)s};
    }
    st_file_t *ov = NULL;
    char err[512] = "out of memory";
    if (!rc && lora_apply(*wf, specs, n, cpus_usable(), &ov, stats, err, sizeof err)) rc = 1;
    if (rc) fprintf(stderr, "imgapi: %s\n", err);
    for (int i = 0; !rc && i < n; i++) {
        fprintf(stderr, "imgapi: %s at %g: %d of %d modules applied", specs[i].path, (double)specs[i].scale,
                stats[i].applied, stats[i].modules);
        if (stats[i].applied < stats[i].modules)
            fprintf(stderr, " (skipped, e.g. %s: no weight of this model)", stats[i].first_skipped);
        fputc('\n', stderr);
    }
    for (int i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
    free(specs);
    free(stats);
    if (!rc) {
        *base = *wf;
        *wf = ov;
    }
    return rc;
}

void dbg_close(dbg_env_t *e) {
    st_writer_free(e->w);
    kctx_destroy(&e->kc);
    st_close(e->wf);
    st_close(e->base);
    st_close(e->inf);
}
