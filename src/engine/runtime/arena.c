/* arena.c - the shared work memory of a model's networks (see arena.h). */
#include "engine/runtime/arena.h"
#include "engine/runtime/bigmem.h"
#include <stdlib.h>

float *arena_reserve(arena_t *a, size_t n) {
    if (a->base && a->floats >= n) return a->base;
    float *p = big_alloc(sizeof(float) * n); /* owned by a */
    if (!p) return NULL;
    free(a->base);
    a->base = p;
    a->floats = n;
    return p;
}

void arena_free(arena_t *a) {
    free(a->base);
    a->base = NULL;
    a->floats = 0;
}
