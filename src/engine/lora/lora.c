/* lora.c - merging adapter files into an overlay of a model's file (lora.h). */
#include "engine/lora/lora.h"
#include "common/status.h"
#include "engine/lora/lora_delta.h"
#include "engine/lora/lora_names.h"
#include "engine/tensor/dtype.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *module; /* owned */
    int part;
    const st_tensor_t *t;
} entry_t;

static int cmp_entry(const void *a, const void *b) {
    const entry_t *x = a, *y = b;
    int c = strcmp(x->module, y->module);
    return c ? c : x->part - y->part;
}

/* DoRA on the running weight acc (W) with ΔW dw: acc = W + s · (m · V / |V| - W), V = W + ΔW. */
static int apply_dora(float *acc, const float *dw, const st_tensor_t *w, const st_tensor_t *mt,
                      float s) {
    int64_t out = w->shape[0], cols = w->numel / out,
            kk = w->ndim == 4 ? w->shape[2] * w->shape[3] : 1;
    int64_t in = cols / kk;
    int per_out = mt->numel == out && out != in; /* m [out, 1, ...]; else m [1, in, ...] */
    if (!per_out && mt->numel != in) return IMG_EFORMAT;
    float *m = malloc(sizeof(float) * (size_t)mt->numel),
          *v = malloc(sizeof(float) * (size_t)w->numel);
    double *norm = calloc((size_t)(per_out ? out : in), sizeof *norm);
    int rc = !m || !v || !norm                     ? IMG_ENOMEM
             : st_to_f32(mt, m, (size_t)mt->numel) ? IMG_EFORMAT
                                                   : IMG_OK;
    if (!rc) {
        for (int64_t i = 0; i < w->numel; i++)
            v[i] = acc[i] + dw[i];
        for (int64_t o = 0; o < out; o++)
            for (int64_t c = 0; c < in; c++)
                for (int64_t k = 0; k < kk; k++) {
                    double x = v[(o * in + c) * kk + k];
                    norm[per_out ? o : c] += x * x;
                }
        for (int64_t o = 0; o < out; o++)
            for (int64_t c = 0; c < in; c++) {
                double n = sqrt(norm[per_out ? o : c]);
                float f = n > 0 ? (float)(m[per_out ? o : c] / n) : 1.0f;
                for (int64_t k = 0; k < kk; k++) {
                    int64_t i = (o * in + c) * kk + k;
                    acc[i] += s * (v[i] * f - acc[i]);
                }
            }
    }
    free(m);
    free(v);
    free(norm);
    return rc;
}

/* Applies one adapter file into acc (per base tensor: the merged f32 weight, created on first
 * use). */
static int apply_one(const st_file_t *base, const lora_names_t *names, const lora_spec_t *sp,
                     float **acc, lora_stats_t *st, char *err, size_t errlen) {
    const char *nm = sp->name ? sp->name : sp->path;
    st_file_t *f = NULL;
    char why[256];
    int rc = st_open(sp->path, &f, why, sizeof why);
    if (rc) { /* a request's name never learns the path (lora.h) */
        if (sp->name)
            snprintf(err, errlen, "LoRA '%s' %s", nm,
                     rc == IMG_EIO || rc == IMG_ENOTFOUND ? "cannot be read"
                                                          : "is not a safetensors adapter file");
        else
            snprintf(err, errlen, "LoRA '%s': %s", nm, why);
        return rc == IMG_ENOMEM ? rc : rc == IMG_EIO ? IMG_EIO : IMG_EFORMAT;
    }
    size_t n = st_count(f), ne = 0;
    entry_t *e = calloc(n ? n : 1, sizeof *e); /* owned here, with each module string */
    if (!e) rc = IMG_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        const st_tensor_t *t = st_get(f, i);
        size_t ml;
        int part = lora_part_of(t->name, &ml);
        if (part < 0) continue; /* a bias difference or metadata tensor: not a weight adapter */
        e[ne].module = malloc(ml + 1);
        if (!e[ne].module) {
            rc = IMG_ENOMEM;
            break;
        }
        memcpy(e[ne].module, t->name, ml);
        e[ne].module[ml] = 0;
        e[ne].part = part;
        e[ne++].t = t;
    }
    if (!rc) qsort(e, ne, sizeof *e, cmp_entry);
    float *dw = NULL;
    for (size_t i = 0; !rc && i < ne;) {
        const st_tensor_t *parts[LP_COUNT] = {0};
        size_t j = i;
        for (; j < ne && !strcmp(e[j].module, e[i].module); j++)
            parts[e[j].part] = e[j].t;
        st->modules++;
        int64_t row0, rows;
        const st_tensor_t *w = lora_names_find(names, e[i].module, &row0, &rows);
        if (!w) {
            if (!st->first_skipped[0])
                snprintf(st->first_skipped, sizeof st->first_skipped, "%s", e[i].module);
            i = j;
            continue;
        }
        size_t idx = (size_t)(w - st_get(base, 0));
        if (!acc[idx]) {
            acc[idx] = malloc(sizeof(float) *
                              (size_t)(w->numel ? w->numel : 1)); /* owned by the caller's table */
            if (!acc[idx] || st_to_f32(w, acc[idx], (size_t)w->numel)) {
                rc = acc[idx] ? IMG_EFORMAT : IMG_ENOMEM;
                snprintf(err, errlen, "LoRA '%s': cannot read the model's %s", nm, w->name);
                break;
            }
        }
        /* the weight the module changes: all of w, or a block of its rows (q of a fused qkv) */
        st_tensor_t part = *w;
        float *target = acc[idx];
        if (rows > 0) {
            int64_t cols = w->numel / w->shape[0];
            part.shape[0] = rows;
            part.numel = rows * cols;
            target += row0 * cols;
        }
        float *d = realloc(dw, sizeof(float) * (size_t)(part.numel ? part.numel : 1));
        if (!d) {
            rc = IMG_ENOMEM;
            break;
        }
        dw = d;
        rc = lora_delta(parts, &part, dw, why, sizeof why);
        if (!rc && parts[LP_DORA]) {
            rc = apply_dora(target, dw, &part, parts[LP_DORA], sp->scale);
            if (rc == IMG_EFORMAT)
                snprintf(why, sizeof why, "its dora_scale does not fit the weight");
        } else if (!rc) {
            float s = sp->scale;
            for (int64_t k = 0; k < part.numel; k++)
                target[k] += s * dw[k];
        }
        if (rc == IMG_EFORMAT)
            snprintf(err, errlen,
                     "LoRA '%s' does not fit this model: module %s (the model's %s): %s", nm,
                     e[i].module, w->name, why);
        if (!rc) st->applied++;
        i = j;
    }
    free(dw);
    if (!rc && st->applied == 0) {
        rc = IMG_EFORMAT;
        if (ne)
            snprintf(
                err, errlen,
                "LoRA '%s': none of its %d modules names a weight of this model (%s; an adapter "
                "for another "
                "model family?)",
                nm, st->modules, st->first_skipped);
        else
            snprintf(err, errlen, "LoRA '%s': the file holds no LoRA, LoCon, LoHa or LoKr tensors",
                     nm);
    }
    if (rc == IMG_ENOMEM) snprintf(err, errlen, "LoRA '%s': out of memory", nm);
    for (size_t i = 0; i < ne; i++)
        free(e[i].module);
    free(e);
    st_close(f);
    return rc;
}

int lora_apply(const st_file_t *base, const lora_spec_t *specs, int n, st_file_t **out,
               lora_stats_t *stats, char *err, size_t errlen) {
    *out = NULL;
    lora_names_t *names = NULL;
    size_t nt = st_count(base);
    float **acc = calloc(nt ? nt : 1, sizeof *acc); /* owned here: merged weights by base index */
    int rc = acc ? lora_names_build(base, &names) : IMG_ENOMEM;
    for (int i = 0; !rc && i < n; i++) {
        lora_stats_t local, *st = stats ? &stats[i] : &local;
        memset(st, 0, sizeof *st);
        if (!isfinite(specs[i].scale)) {
            snprintf(err, errlen, "LoRA '%s': the strength is not a number",
                     specs[i].name ? specs[i].name : specs[i].path);
            rc = IMG_EINVAL;
            break;
        }
        rc = apply_one(base, names, &specs[i], acc, st, err, errlen);
    }
    st_file_t *ov = NULL;
    if (!rc) rc = st_overlay(base, &ov);
    for (size_t i = 0; !rc && i < nt; i++) {
        if (!acc[i]) continue;
        const st_tensor_t *t = st_get(base, i);
        void *data = acc[i];
        st_dtype_t dt = ST_F32;
        if (t->dtype == ST_F16 ||
            t->dtype == ST_BF16) { /* the base's precision, as a merge in place would */
            uint16_t *h = malloc(sizeof *h * (size_t)(t->numel ? t->numel : 1));
            if (!h) {
                rc = IMG_ENOMEM;
                break;
            }
            for (int64_t k = 0; k < t->numel; k++)
                h[k] = t->dtype == ST_F16 ? f32_to_f16(acc[i][k]) : f32_to_bf16(acc[i][k]);
            free(acc[i]);
            data = h;
            dt = t->dtype;
        }
        acc[i] = NULL;
        rc = st_overlay_replace(ov, t, dt, data);
    }
    if (rc == IMG_ENOMEM) snprintf(err, errlen, "LoRA: out of memory merging the adapters");
    for (size_t i = 0; acc && i < nt; i++)
        free(acc[i]);
    free(acc);
    lora_names_free(names);
    if (rc) {
        st_close(ov);
        return rc;
    }
    *out = ov;
    return IMG_OK;
}
