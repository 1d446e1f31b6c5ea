/* rng.c - mt19937 and PyTorch's float normal/uniform transforms. */
#include "engine/sampling/rng.h"
#include <math.h>

void rng_seed(rng_t *r, uint64_t seed) {
    r->mt[0] = (uint32_t)(seed & 0xffffffffu);
    for (int i = 1; i < 624; i++) r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->idx = 624;
    r->has_next_normal = 0;
}

static void twist(rng_t *r) {
    for (int i = 0; i < 624; i++) {
        uint32_t y = (r->mt[i] & 0x80000000u) | (r->mt[(i + 1) % 624] & 0x7fffffffu);
        uint32_t v = r->mt[(i + 397) % 624] ^ (y >> 1);
        if (y & 1) v ^= 0x9908b0dfu;
        r->mt[i] = v;
    }
    r->idx = 0;
}

uint32_t rng_u32(rng_t *r) {
    if (r->idx >= 624) twist(r);
    uint32_t y = r->mt[r->idx++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

static float uniform_f32(rng_t *r) { return (float)(rng_u32(r) & 0xffffffu) * (1.f / 16777216.f); }

static double uniform_f64(rng_t *r) {
    uint64_t hi = rng_u32(r), lo = rng_u32(r);
    uint64_t x = hi << 32 | lo;
    return (double)(x & ((1ULL << 53) - 1)) * (1.0 / 9007199254740992.0);
}

static void normal16(float *d) {
    for (int j = 0; j < 8; j++) {
        float u1 = 1.f - d[j], u2 = d[j + 8];
        float radius = sqrtf(-2.f * logf(u1));
        float theta = 2.0f * (float)M_PI * u2;
        d[j] = radius * cosf(theta);
        d[j + 8] = radius * sinf(theta);
    }
}

void rng_randn(rng_t *r, float *out, size_t n) {
    if (n >= 16) {
        for (size_t i = 0; i < n; i++) out[i] = uniform_f32(r);
        for (size_t i = 0; i + 16 <= n; i += 16) normal16(out + i);
        if (n % 16) {
            float *tail = out + n - 16;
            for (int i = 0; i < 16; i++) tail[i] = uniform_f32(r);
            normal16(tail);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (r->has_next_normal) {
            r->has_next_normal = 0;
            out[i] = (float)r->next_normal;
            continue;
        }
        double u1 = uniform_f64(r), u2 = uniform_f64(r);
        double radius = sqrt(-2.0 * log1p(-u2));
        double theta = 2.0 * M_PI * u1;
        r->next_normal = radius * sin(theta);
        r->has_next_normal = 1;
        out[i] = (float)(radius * cos(theta));
    }
}

void rng_rand(rng_t *r, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = uniform_f32(r);
}
