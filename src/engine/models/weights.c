/* weights.c - named tensor access with the error kept for the caller's message. */
#include "engine/models/weights.h"
#include "common/status.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    return w_linear_cat(wl, &name, 1, n, k, out);
}

int w_linear_cat(wload_t *wl, const char *const *names, int nparts, int n_each, int k, gemm_w_t *out) {
    const st_tensor_t *t[W_MAX_PARTS];
    int f16 = nparts > 0 && nparts <= W_MAX_PARTS;
    for (int p = 0; f16 && p < nparts; p++) {
        t[p] = w_find(wl, names[p]);
        if (!t[p]) return IMG_EFORMAT;
        if (t[p]->numel != (int64_t)n_each * k) {
            fail(wl, "tensor %s%s has %lld values, expected %lld", wl->prefix, names[p],
                 (long long)t[p]->numel, (long long)n_each * k);
            return IMG_EFORMAT;
        }
        f16 = t[p]->dtype == ST_F16;
    }
    if (f16) { /* packed straight from the file's halves */
        const void *src[W_MAX_PARTS];
        int rows[W_MAX_PARTS];
        for (int p = 0; p < nparts; p++) {
            src[p] = t[p]->data;
            rows[p] = n_each;
        }
        int rc = gemm_pack_f16(src, rows, nparts, k, k, 1, 0, out);
        for (int p = 0; p < nparts; p++) st_release(wl->file, t[p]);
        return rc;
    }
    size_t part = (size_t)n_each * k;
    float *cat = nparts == 1 ? NULL : malloc(sizeof(float) * part * (size_t)nparts + 1);
    if (nparts != 1 && !cat) return IMG_ENOMEM;
    float *w = NULL;
    for (int p = 0; p < nparts; p++) {
        w = w_f32(wl, names[p], (int64_t)part);
        if (!w) {
            free(cat);
            return IMG_EFORMAT;
        }
        if (cat) {
            memcpy(cat + part * p, w, sizeof(float) * part);
            free(w);
        }
    }
    int rc = gemm_pack(cat ? cat : w, n_each * nparts, k, out);
    free(cat ? cat : w);
    return rc;
}
