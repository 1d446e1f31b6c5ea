/* lora.c - merging adapter files into an overlay of a model's file (lora.h): first every
 * adapter's modules are found and resolved to the model's weights (in order), then each changed
 * weight is merged on its own - widened to f32, every module that names it applied in adapter
 * order, narrowed back to the base's type - by a few threads, so that at most one f32 copy per
 * thread is held. */
#include "engine/lora/lora.h"
#include "common/status.h"
#include "engine/kernels/half.h"
#include "engine/lora/lora_delta.h"
#include "engine/lora/lora_names.h"
#include "engine/tensor/dtype.h"
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* One adapter module, resolved to the weight (or block of its rows) it changes. */
typedef struct {
    const st_tensor_t *parts[LP_COUNT];
    size_t target; /* the base tensor's index */
    int64_t row0, rows;
    int spec;           /* its adapter: modules apply in adapter order */
    size_t order;       /* its place in the adapters' files, for a stable first error */
    const char *module; /* the entries' */
} mod_t;

static int cmp_mod(const void *a, const void *b) {
    const mod_t *x = a, *y = b;
    if (x->target != y->target) return x->target < y->target ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
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

/* Finds one adapter file's modules and resolves them (appended to *mods); the file stays open in
 * *f (its tensors are read in the merge) and its entries in *ents. */
static int collect(const lora_names_t *names, const st_file_t *base, const lora_spec_t *sp,
                   int spec, st_file_t **f, entry_t **ents, size_t *nents, mod_t **mods,
                   size_t *nmods, size_t *cap, lora_stats_t *st, char *err, size_t errlen) {
    const char *nm = sp->name ? sp->name : sp->path;
    char why[256];
    int rc = st_open(sp->path, f, why, sizeof why);
    if (rc) { /* a request's name never learns the path (lora.h) */
        if (sp->name)
            snprintf(err, errlen, "LoRA '%s' %s", nm,
                     rc == IMG_EIO || rc == IMG_ENOTFOUND ? "cannot be read"
                                                          : "is not a safetensors adapter file");
        else
            snprintf(err, errlen, "LoRA '%s': %s", nm, why);
        return rc == IMG_ENOMEM ? rc : rc == IMG_EIO ? IMG_EIO : IMG_EFORMAT;
    }
    size_t n = st_count(*f), ne = 0;
    entry_t *e = calloc(n ? n : 1, sizeof *e); /* owned by the caller (*ents), with each module */
    if (!e) return IMG_ENOMEM;
    *ents = e;
    for (size_t i = 0; i < n; i++) {
        const st_tensor_t *t = st_get(*f, i);
        size_t ml;
        int part = lora_part_of(t->name, &ml);
        if (part < 0) continue; /* a bias difference or metadata tensor: not a weight adapter */
        e[ne].module = malloc(ml + 1);
        if (!e[ne].module) {
            *nents = ne;
            return IMG_ENOMEM;
        }
        memcpy(e[ne].module, t->name, ml);
        e[ne].module[ml] = 0;
        e[ne].part = part;
        e[ne++].t = t;
    }
    *nents = ne;
    qsort(e, ne, sizeof *e, cmp_entry);
    for (size_t i = 0; i < ne;) {
        mod_t m = {.spec = spec, .module = e[i].module};
        size_t j = i;
        for (; j < ne && !strcmp(e[j].module, e[i].module); j++)
            m.parts[e[j].part] = e[j].t;
        st->modules++;
        const st_tensor_t *w = lora_names_find(names, e[i].module, &m.row0, &m.rows);
        i = j;
        if (!w) {
            if (!st->first_skipped[0])
                snprintf(st->first_skipped, sizeof st->first_skipped, "%s", m.module);
            continue;
        }
        m.target = (size_t)(w - st_get(base, 0));
        m.order = *nmods;
        if (*nmods == *cap) {
            size_t c = *cap ? 2 * *cap : 64;
            mod_t *p = realloc(*mods, c * sizeof *p);
            if (!p) return IMG_ENOMEM;
            *mods = p;
            *cap = c;
        }
        (*mods)[(*nmods)++] = m;
        st->applied++;
    }
    if (st->applied == 0) {
        if (ne)
            snprintf(
                err, errlen,
                "LoRA '%s': none of its %d modules names a weight of this model (%s; an adapter "
                "for another model family?)",
                nm, st->modules, st->first_skipped);
        else
            snprintf(err, errlen, "LoRA '%s': the file holds no LoRA, LoCon, LoHa or LoKr tensors",
                     nm);
        return IMG_EFORMAT;
    }
    return IMG_OK;
}

/* The merge of the changed weights, shared by its threads. */
typedef struct {
    const st_file_t *base;
    const lora_spec_t *specs;
    const mod_t *mods;   /* sorted by target, then order */
    const size_t *first; /* target k's modules: first[k] .. first[k + 1] - 1 */
    size_t ntargets;
    void **merged; /* per target: its data in the base's type (owned until replaced) */
    st_dtype_t *dtype;
    isa_t isa;
    atomic_size_t next;
    pthread_mutex_t mu; /* the error below */
    int rc;
    size_t err_order; /* the failing module's order (the first in file order is told) */
    char err[512];
} merge_t;

static void fail(merge_t *g, int rc, size_t order, const char *msg) {
    pthread_mutex_lock(&g->mu);
    if (!g->rc || order < g->err_order) {
        g->rc = rc;
        g->err_order = order;
        snprintf(g->err, sizeof g->err, "%s", msg);
    }
    pthread_mutex_unlock(&g->mu);
}

/* Merges target k: W + each module's strength · ΔW (DoRA: its own rule), in the base's type. */
/* A thread's work buffers, kept from one weight to the next (fresh large allocations would
 * fault in zeroed pages every time). */
typedef struct {
    float *acc, *dw;
    size_t cap;
} scratch_t;

static void merge_target(merge_t *g, size_t k, scratch_t *sc) {
    const mod_t *m0 = &g->mods[g->first[k]];
    const st_tensor_t *w = st_get(g->base, m0->target);
    size_t n = (size_t)(w->numel ? w->numel : 1);
    char why[256], msg[512];
    if (n > sc->cap || !sc->acc) {
        free(sc->acc);
        free(sc->dw);
        sc->acc = malloc(sizeof(float) * n);
        sc->dw = malloc(sizeof(float) * n);
        sc->cap = sc->acc && sc->dw ? n : 0;
        if (!sc->cap) {
            fail(g, IMG_ENOMEM, m0->order, "LoRA: out of memory merging the adapters");
            return;
        }
    }
    float *acc = sc->acc, *dw = sc->dw;
    if (w->dtype == ST_F16)
        half_to_float(g->isa, w->data, acc, (size_t)w->numel);
    else if (w->dtype == ST_BF16)
        bf16_to_float(g->isa, w->data, acc, (size_t)w->numel);
    else if (st_to_f32(w, acc, (size_t)w->numel)) {
        snprintf(msg, sizeof msg, "LoRA: cannot read the model's %s", w->name);
        fail(g, IMG_EFORMAT, m0->order, msg);
        return;
    }
    for (size_t i = g->first[k]; i < g->first[k + 1]; i++) {
        const mod_t *m = &g->mods[i];
        const lora_spec_t *sp = &g->specs[m->spec];
        /* the weight the module changes: all of w, or a block of its rows (q of a fused qkv) */
        st_tensor_t part = *w;
        float *target = acc;
        if (m->rows > 0) {
            int64_t cols = w->numel / w->shape[0];
            part.shape[0] = m->rows;
            part.numel = m->rows * cols;
            target += m->row0 * cols;
        }
        int rc = lora_delta(m->parts, &part, dw, why, sizeof why);
        if (!rc && m->parts[LP_DORA]) {
            rc = apply_dora(target, dw, &part, m->parts[LP_DORA], sp->scale);
            if (rc == IMG_EFORMAT)
                snprintf(why, sizeof why, "its dora_scale does not fit the weight");
        } else if (!rc) {
            float s = sp->scale;
            for (int64_t q = 0; q < part.numel; q++)
                target[q] += s * dw[q];
        }
        if (rc) {
            if (rc == IMG_ENOMEM)
                snprintf(msg, sizeof msg, "LoRA: out of memory merging the adapters");
            else
                snprintf(msg, sizeof msg,
                         "LoRA '%s' does not fit this model: module %s (the model's %s): %s",
                         sp->name ? sp->name : sp->path, m->module, w->name, why);
            fail(g, rc, m->order, msg);
            return;
        }
    }
    if (w->dtype == ST_F16 || w->dtype == ST_BF16 ||
        ST_IS_BLOCK(w->dtype)) { /* the base's precision, as a merge in place would (blocks: halves) */
        uint16_t *h = malloc(sizeof *h * n);
        if (!h) {
            fail(g, IMG_ENOMEM, m0->order, "LoRA: out of memory merging the adapters");
            return;
        }
        if (w->dtype != ST_BF16)
            half_from_float(g->isa, acc, h, (size_t)w->numel);
        else
            for (int64_t q = 0; q < w->numel; q++)
                h[q] = f32_to_bf16(acc[q]);
        g->merged[k] = h;
        g->dtype[k] = w->dtype == ST_BF16 ? ST_BF16 : ST_F16;
    } else { /* f32: the buffer itself becomes the merged weight */
        g->merged[k] = acc;
        g->dtype[k] = ST_F32;
        sc->acc = NULL;
    }
}

static void *merge_main(void *arg) {
    merge_t *g = arg;
    scratch_t sc = {0};
    for (size_t k; (k = atomic_fetch_add(&g->next, 1)) < g->ntargets;)
        merge_target(g, k, &sc);
    free(sc.acc);
    free(sc.dw);
    return NULL;
}

int lora_apply(const st_file_t *base, const lora_spec_t *specs, int n, int threads, st_file_t **out,
               lora_stats_t *stats, char *err, size_t errlen) {
    *out = NULL;
    lora_names_t *names = NULL;
    st_file_t **files = calloc((size_t)(n > 0 ? n : 1), sizeof *files); /* owned here */
    entry_t **ents = calloc((size_t)(n > 0 ? n : 1), sizeof *ents);     /* owned here */
    size_t *nents = calloc((size_t)(n > 0 ? n : 1), sizeof *nents);
    mod_t *mods = NULL;
    size_t nmods = 0, cap = 0, *first = NULL;
    merge_t g = {
        .base = base, .specs = specs, .isa = cpu_best_isa()};
    pthread_mutex_init(&g.mu, NULL);
    int rc = files && ents && nents ? lora_names_build(base, &names) : IMG_ENOMEM;
    for (int i = 0; !rc && i < n; i++) {
        lora_stats_t local, *st = stats ? &stats[i] : &local;
        memset(st, 0, sizeof *st);
        if (!isfinite(specs[i].scale)) {
            snprintf(err, errlen, "LoRA '%s': the strength is not a number",
                     specs[i].name ? specs[i].name : specs[i].path);
            rc = IMG_EINVAL;
            break;
        }
        rc = collect(names, base, &specs[i], i, &files[i], &ents[i], &nents[i], &mods, &nmods, &cap,
                     st, err, errlen);
    }
    if (!rc) { /* the changed weights, each with its modules in order */
        qsort(mods, nmods, sizeof *mods, cmp_mod);
        first = malloc(sizeof *first * (nmods + 1));
        g.merged = calloc(nmods ? nmods : 1, sizeof *g.merged);
        g.dtype = calloc(nmods ? nmods : 1, sizeof *g.dtype);
        if (!first || !g.merged || !g.dtype) rc = IMG_ENOMEM;
        for (size_t i = 0; !rc && i < nmods; i++)
            if (i == 0 || mods[i].target != mods[i - 1].target) first[g.ntargets++] = i;
        if (!rc) first[g.ntargets] = nmods;
    }
    if (!rc) {
        g.mods = mods;
        g.first = first;
        atomic_init(&g.next, 0);
        int nt = threads > 1 ? threads : 1;
        if ((size_t)nt > g.ntargets) nt = g.ntargets ? (int)g.ntargets : 1;
        pthread_t tid[64];
        int started = 0;
        for (; started < nt - 1 && started < 64; started++)
            if (pthread_create(&tid[started], NULL, merge_main, &g))
                break; /* fewer threads still merge */
        merge_main(&g);
        for (int i = 0; i < started; i++)
            pthread_join(tid[i], NULL);
        rc = g.rc;
        if (rc) snprintf(err, errlen, "%s", g.err);
    }
    st_file_t *ov = NULL;
    if (!rc) rc = st_overlay(base, &ov);
    for (size_t k = 0; !rc && k < g.ntargets; k++) {
        rc = st_overlay_replace(ov, st_get(base, mods[first[k]].target), g.dtype[k], g.merged[k]);
        g.merged[k] = NULL; /* the overlay's now (freed by it on failure too) */
    }
    if (rc == IMG_ENOMEM) snprintf(err, errlen, "LoRA: out of memory merging the adapters");
    for (size_t k = 0; g.merged && k < g.ntargets; k++)
        free(g.merged[k]);
    free(g.merged);
    free(g.dtype);
    free(first);
    free(mods);
    for (int i = 0; i < n; i++) {
        for (size_t j = 0; ents && nents && ents[i] && j < nents[i]; j++)
            free(ents[i][j].module);
        if (ents) free(ents[i]);
        if (files) st_close(files[i]);
    }
    free(ents);
    free(nents);
    free(files);
    pthread_mutex_destroy(&g.mu);
    lora_names_free(names);
    if (rc) {
        st_close(ov);
        return rc;
    }
    *out = ov;
    return IMG_OK;
}
