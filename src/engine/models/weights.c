/* weights.c - named tensor access with the error kept for the caller's message. */
#include "engine/models/weights.h"
#include "common/status.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void w_fail(wload_t *wl, int rc, const char *fmt, ...) {
    if (wl->failed) return;
    wl->failed = 1;
    wl->rc = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(wl->err, sizeof wl->err, fmt, ap);
    va_end(ap);
}

void w_fail_pack(wload_t *wl, int rc, const char *name) {
    if (rc)
        w_fail(wl, rc, "%s packing %s%s", rc == IMG_ENOMEM ? "out of memory" : "cannot pack",
               wl->prefix, name);
}

int w_report(const wload_t *wl, int rc, const char *what, const char *structure, char *err,
             size_t errlen) {
    if (wl->failed) {
        snprintf(err, errlen, "%s: %s", what, wl->err);
        return wl->rc;
    }
    if (rc == IMG_ENOMEM) {
        snprintf(err, errlen, "%s: out of memory", what);
        return rc;
    }
    snprintf(err, errlen, "%s: %s", what, structure);
    return IMG_EFORMAT;
}

const st_tensor_t *w_find(wload_t *wl, const char *name) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", wl->prefix, name);
    const st_tensor_t *t = st_find(wl->file, full);
    if (!t) w_fail(wl, IMG_EFORMAT, "missing tensor %s%s", wl->prefix, name);
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
        w_fail(wl, IMG_EFORMAT, "tensor %s%s has %lld values, expected %lld", wl->prefix, name,
             (long long)t->numel, (long long)numel);
        return NULL;
    }
    float *p = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1)); /* owned by the caller */
    if (!p) {
        w_fail(wl, IMG_ENOMEM, "out of memory reading tensor %s%s", wl->prefix, name);
        return NULL;
    }
    if (st_to_f32(t, p, (size_t)t->numel)) {
        free(p);
        w_fail(wl, IMG_EFORMAT, "cannot read tensor %s%s", wl->prefix, name);
        return NULL;
    }
    st_release(wl->file, t);
    return p;
}

int w_pairs(wload_t *wl, int rc, gemm_w_t *w, const char *name) {
    /* 8-bit panels stay 8-bit: the GEMM rounds each slice to pairs as it uses it */
    if (rc || !wl->bf16 || w->q8) return rc;
    rc = gemm_w_to_dp(w);
    w_fail_pack(wl, rc, name);
    return rc;
}

int w_linear(wload_t *wl, const char *name, int n, int k, gemm_w_t *out) {
    return w_linear_cat(wl, &name, 1, n, k, out);
}

int w_linear_cat(wload_t *wl, const char *const *names, int nparts, int n_each, int k, gemm_w_t *out) {
    const st_tensor_t *t[W_MAX_PARTS];
    /* 16-bit: every part F16, or every part BF16 */
    int direct = nparts > 0 && nparts <= W_MAX_PARTS;
    for (int p = 0; direct && p < nparts; p++) {
        t[p] = w_find(wl, names[p]);
        if (!t[p]) return IMG_EFORMAT;
        if (t[p]->numel != (int64_t)n_each * k) {
            w_fail(wl, IMG_EFORMAT, "tensor %s%s has %lld values, expected %lld", wl->prefix, names[p],
                 (long long)t[p]->numel, (long long)n_each * k);
            return IMG_EFORMAT;
        }
        direct = (t[p]->dtype == ST_F16 || t[p]->dtype == ST_BF16) && t[p]->dtype == t[0]->dtype;
    }
    if (direct) { /* packed straight from the file's 16-bit values */
        const void *src[W_MAX_PARTS];
        int rows[W_MAX_PARTS];
        for (int p = 0; p < nparts; p++) {
            src[p] = t[p]->data;
            rows[p] = n_each;
        }
        int rc = (wl->q8 ? gemm_pack_q8_16bit : gemm_pack_16bit)(src, rows, nparts, k, k, 1, 0,
                                                                 t[0]->dtype == ST_BF16, out);
        for (int p = 0; p < nparts; p++) st_release(wl->file, t[p]);
        w_fail_pack(wl, rc, names[0]);
        return w_pairs(wl, rc, out, names[0]);
    }
    size_t part = (size_t)n_each * k;
    /* owned here: the stacked parts (several), or the one part's copy */
    float *cat = nparts == 1 ? NULL : malloc(sizeof(float) * part * (size_t)nparts + 1);
    if (nparts != 1 && !cat) {
        w_fail(wl, IMG_ENOMEM, "out of memory reading tensor %s%s", wl->prefix, names[0]);
        return IMG_ENOMEM;
    }
    float *w = NULL;
    int q8 = wl->q8; /* a part in a GGUF block type makes the whole matrix 8-bit */
    for (int p = 0; p < nparts; p++) {
        const st_tensor_t *tp = w_find(wl, names[p]);
        q8 |= tp && ST_IS_BLOCK(tp->dtype);
        w = w_f32(wl, names[p], (int64_t)part);
        if (!w) {
            free(cat);
            return wl->rc;
        }
        if (cat) {
            memcpy(cat + part * p, w, sizeof(float) * part);
            free(w);
        }
    }
    int rc = q8 ? gemm_pack_q8(cat ? cat : w, n_each * nparts, k, k, 1, 0, out)
                : gemm_pack(cat ? cat : w, n_each * nparts, k, out);
    free(cat ? cat : w);
    w_fail_pack(wl, rc, names[0]);
    return w_pairs(wl, rc, out, names[0]);
}
