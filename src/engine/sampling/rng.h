/* rng.h - the random numbers PyTorch's CPU generator gives for a seed (mt19937; torch.randn and
 * torch.rand float semantics), so that a seed means the same noise here as in the reference.
 * Same seed + same request = same image, bit for bit, on the same build. */
#ifndef IMGAPI_ENGINE_SAMPLING_RNG_H
#define IMGAPI_ENGINE_SAMPLING_RNG_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t mt[624];
    int idx;
    int has_next_normal; /* the scalar path caches the second Box-Muller value */
    double next_normal;
} rng_t;

void rng_seed(rng_t *r, uint64_t seed);
uint32_t rng_u32(rng_t *r);
/* torch.randn(n): the 16-wide Box-Muller path for n >= 16, the scalar double path below. */
void rng_randn(rng_t *r, float *out, size_t n);
/* torch.rand(n) */
void rng_rand(rng_t *r, float *out, size_t n);

#endif
