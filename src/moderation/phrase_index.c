/* phrase_index.c - a hash table from strings to lists of ids (phrase_index.h). */
#include "moderation/phrase_index.h"
#include "common/status.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key; /* owned; NULL: an empty slot */
    int *ids;  /* owned */
    int n, cap;
} slot_t;

struct phrase_index {
    slot_t *slots;
    size_t cap, used; /* cap a power of two */
};

static uint32_t hash(const char *s) {
    uint32_t h = 0x811c9dc5u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x01000193u;
    return h;
}

int pidx_new(phrase_index_t **out) {
    phrase_index_t *x = calloc(1, sizeof *x); /* owned by *out */
    if (x) x->slots = calloc(1024, sizeof *x->slots);
    if (!x || !x->slots) {
        free(x);
        return IMG_ENOMEM;
    }
    x->cap = 1024;
    *out = x;
    return IMG_OK;
}

void pidx_free(phrase_index_t *x) {
    if (!x) return;
    for (size_t i = 0; i < x->cap; i++) {
        free(x->slots[i].key);
        free(x->slots[i].ids);
    }
    free(x->slots);
    free(x);
}

static slot_t *find(slot_t *slots, size_t cap, const char *key) {
    for (size_t i = hash(key) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!slots[i].key || !strcmp(slots[i].key, key)) return &slots[i];
}

static int grow(phrase_index_t *x) {
    size_t cap = 2 * x->cap;
    slot_t *s = calloc(cap, sizeof *s);
    if (!s) return IMG_ENOMEM;
    for (size_t i = 0; i < x->cap; i++)
        if (x->slots[i].key) *find(s, cap, x->slots[i].key) = x->slots[i];
    free(x->slots);
    x->slots = s;
    x->cap = cap;
    return IMG_OK;
}

int pidx_add(phrase_index_t *x, const char *key, int id) {
    if (2 * (x->used + 1) > x->cap && grow(x)) return IMG_ENOMEM;
    slot_t *s = find(x->slots, x->cap, key);
    if (!s->key) {
        if (!(s->key = strdup(key))) return IMG_ENOMEM;
        x->used++;
    }
    if (s->n && s->ids[s->n - 1] == id) return IMG_OK; /* the same phrase under one key twice */
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 4;
        int *ids = realloc(s->ids, sizeof *ids * (size_t)cap);
        if (!ids) return IMG_ENOMEM;
        s->ids = ids;
        s->cap = cap;
    }
    s->ids[s->n++] = id;
    return IMG_OK;
}

const int *pidx_get(const phrase_index_t *x, const char *key, int *n) {
    const slot_t *s = find(x->slots, x->cap, key);
    *n = s->key ? s->n : 0;
    return s->key ? s->ids : NULL;
}
