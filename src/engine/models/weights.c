/* weights.c - named tensor access with the error kept for the caller's message. */
#include "engine/models/weights.h"
#include "common/status.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void fail(wload_t *wl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(wload_t *wl, const char *fmt, ...) {
    if (wl->failed) return;
    wl->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(wl->err, sizeof wl->err, fmt, ap);
    va_end(ap);
}

const st_tensor_t *w_find(wload_t *wl, const char *name) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", wl->prefix, name);
    const st_tensor_t *t = st_find(wl->file, full);
    if (!t) fail(wl, "missing tensor %s%s", wl->prefix, name);
    return t;
}

int w_has(const wload_t *wl, const char *name) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", wl->prefix, name);
    return st_find(wl->file, full) != NULL;
}

float *w_f32(wload_t *wl, const char *name, int64_t numel) {
    const st_tensor_t *t = w_find(wl, name);
    if (!t) return NULL;
    if (numel && t->numel != numel) {
        fail(wl, "tensor %s%s has %lld values, expected %lld", wl->prefix, name,
             (long long)t->numel, (long long)numel);
        return NULL;
    }
    float *p = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
    if (!p || st_to_f32(t, p, (size_t)t->numel)) {
        free(p);
        fail(wl, "cannot read tensor %s%s", wl->prefix, name);
        return NULL;
    }
    st_release(wl->file, t);
    return p;
}

int w_linear(wload_t *wl, const char *name, int n, int k, gemm_w_t *out) {
    float *w = w_f32(wl, name, (int64_t)n * k);
    if (!w) return IMG_EFORMAT;
    int rc = gemm_pack(w, n, k, out);
    free(w);
    return rc;
}
