/* debug_common.c - helpers shared by the debug components. */
#include "cli/debug.h"
#include "engine/kernels/ops.h"
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


int dbg_open(dbg_env_t *e, const config_t *cfg, const char *weights, const char *inputs) {
    memset(e, 0, sizeof *e);
    if (st_open(weights, &e->wf, e->err, sizeof e->err) ||
        st_open(inputs, &e->inf, e->err, sizeof e->err) ||
        kctx_create(cfg->threads, cfg->isa, cfg->precision, &e->kc, e->err, sizeof e->err) ||
        st_writer_new(&e->w)) {
        fprintf(stderr, "imgapi: %s\n", e->err[0] ? e->err : "out of memory");
        return 1;
    }
    return 0;
}

void dbg_close(dbg_env_t *e) {
    st_writer_free(e->w);
    kctx_destroy(&e->kc);
    st_close(e->wf);
    st_close(e->inf);
}
