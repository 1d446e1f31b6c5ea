/* embeddings.c - textual-inversion embeddings: loading a folder, and prompts with their names. */
#include "engine/models/embeddings.h"
#include "common/status.h"
#include "engine/io/safetensors.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int name_ok(const char *s, size_t n) {
    if (n == 0 || n > TI_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!word_char(s[i])) return 0;
    return 1;
}

void ti_free(ti_set_t *s) {
    for (int i = 0; s->e && i < s->n; i++)
        for (int k = 0; k < TI_MAX_ENCODERS; k++) free(s->e[i].vec[k]);
    free(s->e);
    s->e = NULL;
    s->n = 0;
}

/* The vectors of t as [n][width] floats (malloc'd) when its last dimension is width; NULL else. */
static float *vectors(const st_tensor_t *t, int width, int *n) {
    if (!t || t->ndim < 1 || t->ndim > 2 || t->shape[t->ndim - 1] != width) return NULL;
    float *v = malloc(sizeof(float) * (size_t)t->numel);
    if (v && st_to_f32(t, v, (size_t)t->numel)) {
        free(v);
        return NULL;
    }
    *n = (int)(t->numel / width);
    return v;
}

/* One file's embedding for encoders of widths w; 1 when it fits, 0 when not, -1 out of memory. */
static int load_one(const st_file_t *f, const int *w, int nte, ti_embedding_t *e) {
    const st_tensor_t *l = st_find(f, "clip_l"), *g = st_find(f, "clip_g"), *p = st_find(f, "emb_params");
    for (size_t i = 0; !p && i < st_count(f); i++)
        if (!strncmp(st_get(f, i)->name, "string_to_param.", 16)) p = st_get(f, i);
    if (!p && !l && st_count(f) == 1) p = st_get(f, 0); /* diffusers: {"<token>": [width]} */
    int n0 = 0, n1 = 0;
    if (nte == 2 && l && g) {
        e->vec[0] = vectors(l, w[0], &n0);
        e->vec[1] = e->vec[0] ? vectors(g, w[1], &n1) : NULL;
        if (!e->vec[0] || !e->vec[1] || n0 != n1) return 0;
    } else if (nte == 1 && p) {
        e->vec[0] = vectors(p, w[0], &n0);
        if (!e->vec[0]) return 0;
    } else {
        return 0;
    }
    e->nvec = n0;
    return n0 > 0;
}

int ti_load_dir(const char *dir, const int *widths, int nte, ti_set_t *out, int *skipped, char *err,
                size_t errlen) {
    memset(out, 0, sizeof *out);
    *skipped = 0;
    if (nte < 1 || nte > TI_MAX_ENCODERS) return IMG_OK;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot read the embeddings folder %s", dir);
        return IMG_EIO;
    }
    int rc = IMG_OK, cap = 0;
    for (struct dirent *de; !rc && (de = readdir(d));) {
        size_t l = strlen(de->d_name), ext = strlen(".safetensors");
        if (l <= ext || strcmp(de->d_name + l - ext, ".safetensors")) continue;
        if (!name_ok(de->d_name, l - ext)) {
            (*skipped)++;
            continue;
        }
        char path[1024], why[256];
        st_file_t *f = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (st_open(path, &f, why, sizeof why)) {
            (*skipped)++;
            continue;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 16;
            ti_embedding_t *e = realloc(out->e, (size_t)cap * sizeof *e);
            if (!e) {
                st_close(f);
                rc = IMG_ENOMEM;
                break;
            }
            out->e = e;
        }
        ti_embedding_t *e = &out->e[out->n];
        memset(e, 0, sizeof *e);
        memcpy(e->name, de->d_name, l - ext);
        int fits = load_one(f, widths, nte, e);
        st_close(f);
        if (fits) {
            out->n++;
        } else {
            for (int k = 0; k < TI_MAX_ENCODERS; k++) free(e->vec[k]);
            (*skipped)++;
        }
    }
    closedir(d);
    if (rc) {
        snprintf(err, errlen, "out of memory reading embeddings");
        ti_free(out);
    }
    return rc;
}

/* The embedding named by the word at s (len bytes), or NULL. */
static const ti_embedding_t *named(const ti_set_t *s, const char *w, size_t len) {
    for (int i = 0; i < s->n; i++)
        if (strlen(s->e[i].name) == len && !strncasecmp(s->e[i].name, w, len)) return &s->e[i];
    return NULL;
}

/* Appends src (n ids) to *ids (grown). */
static int append(int32_t **ids, size_t *n, size_t *cap, const int32_t *src, size_t k) {
    if (!k) return IMG_OK;
    if (*n + k > *cap) {
        size_t c = (*n + k) * 2 + 16;
        int32_t *p = realloc(*ids, c * sizeof *p);
        if (!p) return IMG_ENOMEM;
        *ids = p;
        *cap = c;
    }
    memcpy(*ids + *n, src, k * sizeof *src);
    *n += k;
    return IMG_OK;
}

/* Tokenises text[0..len) and appends its ids. */
static int append_text(const tokenizer_t *tok, const char *text, size_t len, int32_t **ids, size_t *n, size_t *cap) {
    if (!len) return IMG_OK;
    char *seg = strndup(text, len);
    if (!seg) return IMG_ENOMEM;
    int32_t *part = NULL;
    size_t k = 0;
    int rc = tok_encode(tok, seg, &part, &k);
    free(seg);
    if (!rc) rc = append(ids, n, cap, part, k);
    free(part);
    return rc;
}

int ti_encode(const ti_set_t *s, const tokenizer_t *tok, const char *prompt, int nte, const int *widths,
              int32_t **ids, size_t *n, float **extra, int *nrows) {
    *ids = NULL;
    *n = 0;
    *nrows = 0;
    for (int e = 0; e < nte; e++) extra[e] = NULL;
    size_t cap = 0, start = 0, i = 0, len = strlen(prompt);
    int rc = IMG_OK, rows_cap = 0;
    while (!rc && i < len) {
        if (!word_char(prompt[i]) || (i > 0 && word_char(prompt[i - 1]))) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && word_char(prompt[j])) j++;
        const ti_embedding_t *emb = named(s, prompt + i, j - i);
        if (emb) { /* the text before it, then its vectors as rows of extra */
            rc = append_text(tok, prompt + start, i - start, ids, n, &cap);
            if (!rc && *nrows + emb->nvec > rows_cap) {
                rows_cap = (*nrows + emb->nvec) * 2;
                for (int e = 0; e < nte && !rc; e++) {
                    float *p = realloc(extra[e], sizeof(float) * (size_t)rows_cap * (size_t)widths[e]);
                    if (!p) rc = IMG_ENOMEM;
                    else extra[e] = p;
                }
            }
            for (int k = 0; !rc && k < emb->nvec; k++) {
                for (int e = 0; e < nte; e++)
                    memcpy(extra[e] + (size_t)(*nrows) * widths[e], emb->vec[e] + (size_t)k * widths[e],
                           sizeof(float) * (size_t)widths[e]);
                int32_t id = -1 - *nrows;
                (*nrows)++;
                rc = append(ids, n, &cap, &id, 1);
            }
            start = j;
        }
        i = j;
    }
    if (!rc) rc = append_text(tok, prompt + start, len - start, ids, n, &cap);
    if (!rc && !*ids && !(*ids = malloc(sizeof(int32_t)))) rc = IMG_ENOMEM; /* an empty prompt */
    if (rc) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        for (int e = 0; e < nte; e++) {
            free(extra[e]);
            extra[e] = NULL;
        }
    }
    return rc;
}
