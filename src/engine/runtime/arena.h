/* arena.h - a growable block of work memory that the networks of one model borrow in turn: the
 * UNet while sampling, then the VAE decoder. Each lays out its buffers afresh in it on every
 * call, so the model's peak is the largest of their needs, not their sum (at 512x512 with
 * SD-Turbo: the decoder's 670 MB instead of that plus the UNet's 150 MB). Not thread-safe: one
 * generation per model at a time, as everywhere in the engine. */
#ifndef IMGAPI_ENGINE_RUNTIME_ARENA_H
#define IMGAPI_ENGINE_RUNTIME_ARENA_H
#include <stddef.h>

typedef struct {
    float *base; /* owned; NULL until the first reservation */
    size_t floats;
} arena_t;

/* At least n floats (contents not kept when it grows); NULL when out of memory, the arena then
 * unchanged. */
float *arena_reserve(arena_t *a, size_t n);
void arena_free(arena_t *a);

#endif
