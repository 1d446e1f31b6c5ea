/* safetensors.c - validated safetensors reader (mmap) and writer. */
#include "engine/io/safetensors.h"
#include "common/buf.h"
#include "common/status.h"
#include "engine/io/builtin.h"
#include "engine/io/diffusers.h"
#include "engine/io/gguf.h"
#include "engine/kernels/half.h"
#include "engine/tensor/dtype.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u * 1024 * 1024)

struct st_file {
    void *map; /* NULL when parsed from a caller's buffer */
    size_t map_len;
    st_tensor_t *tensors;
    size_t n;
    char *names; /* all names, NUL-separated */
    char **meta; /* key, value, key, value, ... */
    size_t nmeta;
    st_progress_t *progress; /* the caller's, may be NULL */
    /* an overlay (st_overlay): the file whose tensors it shows, and per tensor the replacement
     * data it owns (NULL: the parent's) */
    const st_file_t *parent;
    void **owned;
    /* a composed file (st_compose): the files its tensors come from, closed with it */
    st_file_t **kept;
    size_t nkept;
};

static const struct {
    const char *name;
    size_t size;
} DTYPES[ST_DTYPE_COUNT] = {
    [ST_F64] = {"F64", 8}, [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
    [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4}, [ST_I16] = {"I16", 2}, [ST_I8] = {"I8", 1},
    [ST_U8] = {"U8", 1},   [ST_BOOL] = {"BOOL", 1}, [ST_Q8_0] = {"Q8_0", 0}, [ST_Q4_0] = {"Q4_0", 0},
    [ST_Q4_1] = {"Q4_1", 0}, [ST_Q5_0] = {"Q5_0", 0}, [ST_Q5_1] = {"Q5_1", 0}, [ST_Q2_K] = {"Q2_K", 0},
    [ST_Q3_K] = {"Q3_K", 0}, [ST_Q4_K] = {"Q4_K", 0}, [ST_Q5_K] = {"Q5_K", 0}, [ST_Q6_K] = {"Q6_K", 0},
};

size_t st_dtype_size(st_dtype_t t) { return DTYPES[t].size; }

size_t st_data_bytes(st_dtype_t t, int64_t numel) {
    if (ST_IS_BLOCK(t)) return gguf_block_bytes(t, numel);
    return (size_t)numel * DTYPES[t].size;
}
const char *st_dtype_name(st_dtype_t t) { return DTYPES[t].name; }

void st_close(st_file_t *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->map_len);
    for (size_t i = 0; f->owned && i < f->n; i++) free(f->owned[i]);
    free(f->owned);
    for (size_t i = 0; i < f->nkept; i++) st_close(f->kept[i]);
    free(f->kept);
    free(f->tensors);
    free(f->names);
    for (size_t i = 0; i < 2 * f->nmeta; i++) free(f->meta[i]);
    free(f->meta);
    free(f);
}

static int cmp_tensor(const void *a, const void *b) {
    return strcmp(((const st_tensor_t *)a)->name, ((const st_tensor_t *)b)->name);
}

static int cmp_by_offset(const void *a, const void *b) {
    const st_tensor_t *x = *(const st_tensor_t *const *)a, *y = *(const st_tensor_t *const *)b;
    const char *px = x->data, *py = y->data;
    return px < py ? -1 : px > py;
}

#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        rc = code;                                                                                 \
        goto out;                                                                                  \
    } while (0)

static int parse_entry(const char *name, json_t *v, const uint8_t *data, uint64_t data_len,
                       st_tensor_t *t, char *err, size_t errlen) {
    int rc = IMG_OK;
    if (!json_is_object(v)) FAIL(IMG_EFORMAT, "tensor '%.100s': entry is not an object", name);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
           *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(off) || json_array_size(off) != 2)
        FAIL(IMG_EFORMAT, "tensor '%.100s': needs dtype, shape and data_offsets", name);
    int d;
    for (d = 0; d < ST_DTYPE_COUNT; d++) /* block types are GGUF's only */
        if (DTYPES[d].size && strcmp(json_string_value(dt), DTYPES[d].name) == 0) break;
    if (d == ST_DTYPE_COUNT)
        FAIL(IMG_EUNSUPPORTED, "tensor '%.100s': unsupported dtype '%.20s'", name, json_string_value(dt));
    t->dtype = (st_dtype_t)d;
    size_t nd = json_array_size(sh);
    if (nd > ST_MAX_DIMS) FAIL(IMG_EFORMAT, "tensor '%.100s': too many dimensions", name);
    t->ndim = (int)nd;
    uint64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *x = json_array_get(sh, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > (1LL << 40))
            FAIL(IMG_EFORMAT, "tensor '%.100s': bad shape", name);
        t->shape[i] = json_integer_value(x);
        if (t->shape[i] && numel > (UINT64_MAX / 16) / (uint64_t)t->shape[i])
            FAIL(IMG_EFORMAT, "tensor '%.100s': shape too large", name);
        numel *= (uint64_t)t->shape[i];
    }
    json_t *b = json_array_get(off, 0), *e = json_array_get(off, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b))
        FAIL(IMG_EFORMAT, "tensor '%.100s': bad data_offsets", name);
    uint64_t begin = (uint64_t)json_integer_value(b), end = (uint64_t)json_integer_value(e);
    if (end > data_len) FAIL(IMG_EFORMAT, "tensor '%.100s': data lies outside the file (truncated?)", name);
    if (end - begin != numel * DTYPES[d].size)
        FAIL(IMG_EFORMAT, "tensor '%.100s': data size does not match its shape and dtype", name);
    t->numel = (int64_t)numel;
    t->data = data + begin;
    t->nbytes = (size_t)(end - begin);
out:
    return rc;
}

int st_parse(const void *buf, size_t len, st_file_t **out, char *err, size_t errlen) {
    int rc = IMG_OK;
    json_t *root = NULL;
    st_tensor_t **byoff = NULL;
    st_file_t *f = calloc(1, sizeof *f); /* owned by *out, or freed on failure */
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return IMG_ENOMEM;
    }
    const uint8_t *p = buf;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0 && len >= 8; i--) hlen = hlen << 8 | p[i];
    int plausible = len >= 9 && hlen >= 2 && hlen <= ST_MAX_HEADER && hlen <= len - 8 && p[8] == '{';
    /* Only a file that is not a safetensors file is diagnosed as a pickle or a zip. */
    if (!plausible && len >= 2 && p[0] == 0x80 && p[1] >= 2 && p[1] <= 5)
        FAIL(IMG_EUNSUPPORTED, "this is a pickle checkpoint, which can run code when loaded; "
                               "convert it to .safetensors first");
    if (!plausible && len >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
        FAIL(IMG_EUNSUPPORTED, "this is a PyTorch .ckpt/.pt (zip of pickles), which can run code "
                               "when loaded; convert it to .safetensors first");
    if (len < 8) FAIL(IMG_EFORMAT, "file too short for a safetensors header");
    if (hlen < 2 || hlen > ST_MAX_HEADER || hlen > len - 8)
        FAIL(IMG_EFORMAT, "invalid header length %llu (file of %zu bytes)", (unsigned long long)hlen, len);
    json_error_t jerr;
    root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root))
        FAIL(IMG_EFORMAT, "header is not a JSON object: %.100s", root ? "wrong type" : jerr.text);
    const uint8_t *data = p + 8 + hlen;
    uint64_t data_len = len - 8 - hlen;
    size_t count = json_object_size(root);
    f->tensors = calloc(count ? count : 1, sizeof *f->tensors);
    size_t names_len = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) names_len += strlen(key) + 1;
    f->names = malloc(names_len + 1);
    if (!f->tensors || !f->names) FAIL(IMG_ENOMEM, "out of memory");
    char *np = f->names;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(v)) FAIL(IMG_EFORMAT, "__metadata__ is not an object");
            f->meta = calloc(2 * json_object_size(v) + 1, sizeof *f->meta);
            if (!f->meta) FAIL(IMG_ENOMEM, "out of memory");
            const char *mk;
            json_t *mv;
            json_object_foreach(v, mk, mv) {
                if (!json_is_string(mv)) FAIL(IMG_EFORMAT, "__metadata__ values must be strings");
                f->meta[2 * f->nmeta] = strdup(mk);
                f->meta[2 * f->nmeta + 1] = strdup(json_string_value(mv));
                f->nmeta++;
                if (!f->meta[2 * f->nmeta - 2] || !f->meta[2 * f->nmeta - 1]) FAIL(IMG_ENOMEM, "out of memory");
            }
            continue;
        }
        st_tensor_t *t = &f->tensors[f->n];
        rc = parse_entry(key, v, data, data_len, t, err, errlen);
        if (rc) goto out;
        size_t kl = strlen(key);
        memcpy(np, key, kl + 1);
        t->name = np;
        np += kl + 1;
        f->n++;
    }
    /* No two tensors may share bytes. */
    byoff = malloc((f->n ? f->n : 1) * sizeof *byoff);
    if (!byoff) FAIL(IMG_ENOMEM, "out of memory");
    for (size_t i = 0; i < f->n; i++) byoff[i] = &f->tensors[i];
    qsort(byoff, f->n, sizeof *byoff, cmp_by_offset);
    for (size_t i = 1; i < f->n; i++) {
        const char *prev_end = (const char *)byoff[i - 1]->data + byoff[i - 1]->nbytes;
        if ((const char *)byoff[i]->data < prev_end)
            FAIL(IMG_EFORMAT, "tensors '%.60s' and '%.60s' overlap", byoff[i - 1]->name, byoff[i]->name);
    }
    qsort(f->tensors, f->n, sizeof *f->tensors, cmp_tensor);
out:
    free(byoff);
    json_decref(root);
    if (rc) {
        st_close(f);
        return rc;
    }
    *out = f;
    return IMG_OK;
}

int st_open(const char *path, st_file_t **out, char *err, size_t errlen) {
    struct stat dst;
    if (!builtin_is(path) && stat(path, &dst) == 0 && S_ISDIR(dst.st_mode))
        return diffusers_open(path, out, err, errlen); /* a diffusers folder, in the LDM layout */
    if (builtin_is(path)) {
        const void *data;
        size_t blen;
        char e2[256];
        if (builtin_find(path, &data, &blen)) {
            snprintf(err, errlen, "%s is not a built-in file", path);
            return IMG_ENOTFOUND;
        }
        int rc = st_parse(data, blen, out, e2, sizeof e2);
        if (rc) snprintf(err, errlen, "%s: %s", path, e2);
        return rc;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return IMG_EIO;
    }
    struct stat stt;
    if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        close(fd);
        return IMG_EIO;
    }
    size_t len = (size_t)stt.st_size;
    if (len == 0) {
        snprintf(err, errlen, "%s is empty", path);
        close(fd);
        return IMG_EFORMAT;
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
        return IMG_EIO;
    }
    char e2[256];
    int gguf = len >= 4 && !memcmp(map, "GGUF", 4); /* llama.cpp's format, as stable-diffusion.cpp writes it */
    int rc = gguf ? gguf_parse(map, len, out, e2, sizeof e2) : st_parse(map, len, out, e2, sizeof e2);
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, e2);
        munmap(map, len);
        return rc;
    }
    (*out)->map = map;
    (*out)->map_len = len;
    return IMG_OK;
}

size_t st_count(const st_file_t *f) { return f->n; }
const st_tensor_t *st_get(const st_file_t *f, size_t i) { return i < f->n ? &f->tensors[i] : NULL; }

int st_has_blocks(const st_file_t *f) {
    for (size_t i = 0; i < st_count(f); i++)
        if (ST_IS_BLOCK(st_get(f, i)->dtype)) return 1;
    return 0;
}

const st_tensor_t *st_find(const st_file_t *f, const char *name) {
    st_tensor_t key = {.name = name};
    return bsearch(&key, f->tensors, f->n, sizeof *f->tensors, cmp_tensor);
}

const char *st_metadata(const st_file_t *f, const char *key) {
    if (f->parent) return st_metadata(f->parent, key);
    for (size_t i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

int st_to_f32(const st_tensor_t *t, float *out, size_t n) {
    if ((int64_t)n != t->numel) return IMG_EINVAL;
    const uint8_t *p = t->data;
    /* one loop per type: the per-value switch cost more than the conversion */
    switch (t->dtype) {
    case ST_F32: memcpy(out, p, 4 * n); break;
    case ST_F64: for (size_t i = 0; i < n; i++) { double v; memcpy(&v, p + 8 * i, 8); out[i] = (float)v; } break;
    case ST_F16:
        if (!((uintptr_t)p & 1)) { /* F16C where the CPU has it: a model's load reads billions */
            half_to_float(cpu_best_isa(), (const uint16_t *)(const void *)p, out, n);
            break;
        }
        for (size_t i = 0; i < n; i++) { uint16_t v; memcpy(&v, p + 2 * i, 2); out[i] = f16_to_f32(v); }
        break;
    case ST_BF16: for (size_t i = 0; i < n; i++) { uint16_t v; memcpy(&v, p + 2 * i, 2); out[i] = bf16_to_f32(v); } break;
    case ST_I64: for (size_t i = 0; i < n; i++) { int64_t v; memcpy(&v, p + 8 * i, 8); out[i] = (float)v; } break;
    case ST_I32: for (size_t i = 0; i < n; i++) { int32_t v; memcpy(&v, p + 4 * i, 4); out[i] = (float)v; } break;
    case ST_I16: for (size_t i = 0; i < n; i++) { int16_t v; memcpy(&v, p + 2 * i, 2); out[i] = (float)v; } break;
    case ST_I8: for (size_t i = 0; i < n; i++) out[i] = (float)(int8_t)p[i]; break;
    case ST_U8:
    case ST_BOOL: for (size_t i = 0; i < n; i++) out[i] = (float)p[i]; break;
    case ST_Q8_0: case ST_Q4_0: case ST_Q4_1: case ST_Q5_0: case ST_Q5_1:
    case ST_Q2_K: case ST_Q3_K: case ST_Q4_K: case ST_Q5_K: case ST_Q6_K:
        return gguf_block_to_f32(t->dtype, p, n, out);
    default: return IMG_EUNSUPPORTED;
    }
    return IMG_OK;
}

void st_track(st_file_t *f, st_progress_t *p) {
    f->progress = p;
    if (!p) return;
    p->done = p->total = 0;
    for (size_t i = 0; i < f->n; i++)
        p->total += f->tensors[i].nbytes;
}

void st_release(const st_file_t *f, const st_tensor_t *t) {
    st_progress_t *p = f->progress;
    if (p && p->fn && p->total) {
        p->done += t->nbytes;
        p->fn(p->user, p->done < p->total ? (double)p->done / (double)p->total : 1.0);
    }
    if (f->parent) { /* an overlay: the parent's pages, unless the data is a replacement */
        size_t i = (size_t)(t - f->tensors);
        if (i < f->n && !f->owned[i]) {
            const st_file_t *root = f->parent;
            while (root->parent) root = root->parent;
            if (!root->map || !t->nbytes) return;
            f = root;
        } else {
            return;
        }
    }
    if (!f->map || !t->nbytes) return;
    /* only the mapping's pages: a tensor the file owns (a GGUF block type expanded at open)
     * lives on the heap, where the advice would discard its neighbours */
    const char *d = t->data, *m = f->map;
    if (d < m || d + t->nbytes > m + f->map_len) return;
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t page = pg > 0 ? (uintptr_t)pg : 4096;
    uintptr_t lo = (uintptr_t)t->data & ~(page - 1), hi = (uintptr_t)t->data + t->nbytes;
    madvise((void *)lo, hi - lo, MADV_DONTNEED); /* advice only: a failure changes nothing */
}

int st_overlay(const st_file_t *base, st_file_t **out) {
    *out = NULL;
    st_file_t *f = calloc(1, sizeof *f); /* owned by the caller (st_close) */
    if (!f) return IMG_ENOMEM;
    f->parent = base;
    f->n = base->n;
    f->tensors = malloc(sizeof *f->tensors * (base->n ? base->n : 1));
    f->owned = calloc(base->n ? base->n : 1, sizeof *f->owned);
    if (!f->tensors || !f->owned) {
        st_close(f);
        return IMG_ENOMEM;
    }
    memcpy(f->tensors, base->tensors, sizeof *f->tensors * base->n); /* names stay the base's */
    *out = f;
    return IMG_OK;
}

int st_overlay_replace(st_file_t *f, const st_tensor_t *t, st_dtype_t dtype, void *data) {
    size_t i = f->parent && t >= f->tensors && t < f->tensors + f->n ? (size_t)(t - f->tensors) : f->n;
    if (i == f->n) {
        const st_tensor_t *mine = f->parent ? st_find(f, t->name) : NULL;
        i = mine ? (size_t)(mine - f->tensors) : f->n;
    }
    if (i == f->n) {
        free(data);
        return IMG_EINVAL;
    }
    free(f->owned[i]);
    f->owned[i] = data;
    f->tensors[i].dtype = dtype;
    f->tensors[i].data = data;
    f->tensors[i].nbytes = st_data_bytes(dtype, f->tensors[i].numel);
    return IMG_OK;
}

/* ---- composed files ---- */

struct st_compose {
    st_file_t *f;   /* tensors, owned data, kept files and metadata as the result will hold them */
    char **names;   /* per tensor, owned until finish joins them */
    size_t cap;
    int failed;     /* an allocation failed: finish reports it */
};

int st_compose_new(st_compose_t **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return IMG_ENOMEM;
    (*out)->f = calloc(1, sizeof *(*out)->f);
    if (!(*out)->f) {
        free(*out);
        *out = NULL;
        return IMG_ENOMEM;
    }
    return IMG_OK;
}

void st_compose_free(st_compose_t *c) {
    if (!c) return;
    for (size_t i = 0; c->names && i < c->f->n; i++) free(c->names[i]);
    free(c->names);
    st_close(c->f);
    free(c);
}

int st_compose_keep(st_compose_t *c, st_file_t *f) {
    st_file_t **k = realloc(c->f->kept, (c->f->nkept + 1) * sizeof *k);
    if (!k) {
        st_close(f);
        c->failed = 1;
        return IMG_ENOMEM;
    }
    c->f->kept = k;
    k[c->f->nkept++] = f;
    return IMG_OK;
}

int st_compose_add(st_compose_t *c, const char *name, st_dtype_t dtype, int ndim, const int64_t *shape,
                   const void *borrowed, void *owned) {
    st_file_t *f = c->f;
    int64_t numel = 1;
    for (int i = 0; ndim >= 0 && i < ndim && i < ST_MAX_DIMS; i++) numel *= shape[i];
    if (ndim < 0 || ndim > ST_MAX_DIMS || dtype >= ST_DTYPE_COUNT ||
        (ST_IS_BLOCK(dtype) && !gguf_block_bytes(dtype, numel))) {
        free(owned);
        return IMG_EINVAL;
    }
    if (f->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        st_tensor_t *t = realloc(f->tensors, cap * sizeof *t);
        if (t) f->tensors = t;
        void **o = t ? realloc(f->owned, cap * sizeof *o) : NULL;
        if (o) f->owned = o;
        char **nm = o ? realloc(c->names, cap * sizeof *nm) : NULL;
        if (!nm) {
            free(owned);
            c->failed = 1;
            return IMG_ENOMEM;
        }
        c->names = nm;
        c->cap = cap;
    }
    char *n = strdup(name);
    if (!n) {
        free(owned);
        c->failed = 1;
        return IMG_ENOMEM;
    }
    st_tensor_t *t = &f->tensors[f->n];
    memset(t, 0, sizeof *t);
    t->name = n;
    t->dtype = dtype;
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= shape[i];
    }
    t->data = owned ? owned : borrowed;
    t->nbytes = st_data_bytes(dtype, t->numel);
    f->owned[f->n] = owned;
    c->names[f->n++] = n;
    return IMG_OK;
}

int st_compose_set_metadata(st_compose_t *c, const char *key, const char *value) {
    st_file_t *f = c->f;
    char **m = realloc(f->meta, (2 * f->nmeta + 2) * sizeof *m);
    if (m) f->meta = m;
    char *k = m ? strdup(key) : NULL, *v = k ? strdup(value) : NULL;
    if (!v) {
        free(k);
        c->failed = 1;
        return IMG_ENOMEM;
    }
    f->meta[2 * f->nmeta] = k;
    f->meta[2 * f->nmeta + 1] = v;
    f->nmeta++;
    return IMG_OK;
}

int st_compose_finish(st_compose_t *c, st_file_t **out, char *err, size_t errlen) {
    *out = NULL;
    st_file_t *f = c->f;
    if (c->failed) {
        snprintf(err, errlen, "out of memory");
        st_compose_free(c);
        return IMG_ENOMEM;
    }
    size_t len = 1;
    for (size_t i = 0; i < f->n; i++) len += strlen(c->names[i]) + 1;
    f->names = malloc(len);
    if (!f->names) {
        snprintf(err, errlen, "out of memory");
        st_compose_free(c);
        return IMG_ENOMEM;
    }
    char *np = f->names;
    for (size_t i = 0; i < f->n; i++) { /* the names move into one block, as a parsed file's */
        size_t l = strlen(c->names[i]);
        memcpy(np, c->names[i], l + 1);
        f->tensors[i].name = np;
        np += l + 1;
        free(c->names[i]);
    }
    free(c->names);
    c->names = NULL;
    /* sorted by name, as st_find needs; owned data follows its tensor */
    for (size_t i = 0; i < f->n; i++) /* the tensor remembers its owned data through data */
        if (f->owned[i] && f->owned[i] != f->tensors[i].data) f->owned[i] = NULL;
    qsort(f->tensors, f->n, sizeof *f->tensors, cmp_tensor);
    void **owned = calloc(f->n ? f->n : 1, sizeof *owned);
    if (!owned) {
        snprintf(err, errlen, "out of memory");
        st_compose_free(c);
        return IMG_ENOMEM;
    }
    for (size_t i = 0; i < f->n; i++) /* re-pair each owned buffer with its tensor's new place */
        for (size_t j = 0; j < f->n; j++)
            if (f->owned[j] && f->owned[j] == f->tensors[i].data) {
                owned[i] = f->owned[j];
                f->owned[j] = NULL;
                break;
            }
    free(f->owned);
    f->owned = owned;
    for (size_t i = 1; i < f->n; i++)
        if (!strcmp(f->tensors[i - 1].name, f->tensors[i].name)) {
            snprintf(err, errlen, "two tensors are named %.200s", f->tensors[i].name);
            c->f = NULL;
            st_close(f);
            free(c);
            return IMG_EFORMAT;
        }
    c->f = NULL;
    free(c);
    *out = f;
    return IMG_OK;
}

/* ---- writer ---- */

typedef struct {
    char *name;
    st_dtype_t dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    void *data;
    size_t nbytes;
} wt_t;

struct st_writer {
    wt_t *t;
    size_t n, cap;
    json_t *meta;
};

int st_writer_new(st_writer_t **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return IMG_ENOMEM;
    (*out)->meta = json_object();
    return IMG_OK;
}

int st_writer_add(st_writer_t *w, const char *name, st_dtype_t dtype, int ndim,
                  const int64_t *shape, const void *data) {
    /* a block type (Q8_0) has no safetensors dtype */
    if (ndim < 0 || ndim > ST_MAX_DIMS || dtype >= ST_DTYPE_COUNT || !DTYPES[dtype].size)
        return IMG_EINVAL;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        wt_t *p = realloc(w->t, cap * sizeof *p);
        if (!p) return IMG_ENOMEM;
        w->t = p;
        w->cap = cap;
    }
    wt_t *t = &w->t[w->n];
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        numel *= (size_t)shape[i];
    }
    t->nbytes = numel * DTYPES[dtype].size;
    t->name = strdup(name);
    t->data = malloc(t->nbytes ? t->nbytes : 1);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return IMG_ENOMEM;
    }
    memcpy(t->data, data, t->nbytes);
    t->dtype = dtype;
    t->ndim = ndim;
    w->n++;
    return IMG_OK;
}

int st_writer_set_metadata(st_writer_t *w, const char *key, const char *value) {
    return json_object_set_new(w->meta, key, json_string(value)) ? IMG_ENOMEM : IMG_OK;
}

int st_writer_save(st_writer_t *w, const char *path) {
    json_t *h = json_object();
    if (json_object_size(w->meta)) json_object_set(h, "__metadata__", w->meta);
    size_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        json_t *shape = json_array();
        for (int d = 0; d < w->t[i].ndim; d++) json_array_append_new(shape, json_integer(w->t[i].shape[d]));
        json_object_set_new(h, w->t[i].name,
                            json_pack("{s:s, s:o, s:[I, I]}", "dtype", DTYPES[w->t[i].dtype].name,
                                      "shape", shape, "data_offsets", (json_int_t)off,
                                      (json_int_t)(off + w->t[i].nbytes)));
        off += w->t[i].nbytes;
    }
    char *hs = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    if (!hs) return IMG_ENOMEM;
    size_t hl = strlen(hs);
    size_t padded = (hl + 7) & ~(size_t)7;
    FILE *f = fopen(path, "wb");
    int rc = IMG_OK;
    if (!f) {
        free(hs);
        return IMG_EIO;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    if (fwrite(len8, 1, 8, f) != 8 || fwrite(hs, 1, hl, f) != hl) rc = IMG_EIO;
    for (size_t i = hl; i < padded && rc == IMG_OK; i++)
        if (fputc(' ', f) == EOF) rc = IMG_EIO;
    for (size_t i = 0; i < w->n && rc == IMG_OK; i++)
        if (fwrite(w->t[i].data, 1, w->t[i].nbytes, f) != w->t[i].nbytes) rc = IMG_EIO;
    if (fclose(f) != 0) rc = IMG_EIO;
    free(hs);
    return rc;
}

void st_writer_free(st_writer_t *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    free(w->t);
    json_decref(w->meta);
    free(w);
}
