/* sampler.h - k-diffusion samplers over a sigma sequence: Euler, Euler ancestral, DPM++ 2M and
 * LCM. The model is a callback returning the denoised estimate; noise comes from a callback so
 * that the caller controls the random stream. */
#ifndef IMGAPI_ENGINE_SAMPLING_SAMPLER_H
#define IMGAPI_ENGINE_SAMPLING_SAMPLER_H
#include <stddef.h>

typedef enum { SAMPLER_EULER = 0, SAMPLER_EULER_A, SAMPLER_DPMPP_2M, SAMPLER_LCM, SAMPLER_COUNT } sampler_kind_t;

typedef struct {
    /* denoised = D(x, sigma); nonzero return aborts (its value is returned). */
    int (*denoise)(void *user, const float *x, float sigma, float *denoised);
    /* fills n values of N(0, 1) for ancestral step i */
    void (*noise)(void *user, int step, float *out, size_t n);
    /* after each step: x at the start of step i and its denoised estimate; nonzero cancels */
    int (*on_step)(void *user, int step, int steps, const float *x, const float *denoised);
    void *user;
} sampler_io_t;

const char *sampler_name(sampler_kind_t k);
int sampler_parse(const char *s); /* -1 when unknown */
/* Runs `steps` steps over sigmas[0..steps] (sigmas[steps] is usually 0) on x (n values, in place).
 * work: 3n floats of scratch. Returns 0 or the callback's nonzero value. */
int sampler_run(sampler_kind_t kind, float *x, size_t n, const float *sigmas, int steps,
                const sampler_io_t *io, float *work);

#endif
