/* sampler.c - the sampling loops, as k-diffusion defines them. */
#include "engine/sampling/sampler.h"
#include <math.h>
#include <string.h>

static const char *NAMES[SAMPLER_COUNT] = {"euler", "euler_a", "dpmpp_2m", "lcm"};

const char *sampler_name(sampler_kind_t k) { return k < SAMPLER_COUNT ? NAMES[k] : "?"; }

int sampler_parse(const char *s) {
    for (int i = 0; i < SAMPLER_COUNT; i++)
        if (strcmp(s, NAMES[i]) == 0) return i;
    return -1;
}

int sampler_run(sampler_kind_t kind, float *x, size_t n, const float *sigmas, int steps,
                const sampler_io_t *io, float *work) {
    float *den = work, *old = work + n, *noise = work + 2 * n;
    int have_old = 0;
    for (int i = 0; i < steps; i++) {
        float s = sigmas[i], sn = sigmas[i + 1];
        int rc = io->denoise(io->user, x, s, den);
        if (rc) return rc;
        if (io->on_step && (rc = io->on_step(io->user, i, steps, x, den))) return rc;
        switch (kind) {
        case SAMPLER_EULER: {
            float dt = sn - s;
            for (size_t k = 0; k < n; k++) x[k] = x[k] + (x[k] - den[k]) / s * dt;
            break;
        }
        case SAMPLER_EULER_A: {
            float up = sqrtf(sn * sn * (s * s - sn * sn) / (s * s));
            if (up > sn) up = sn;
            float down = sqrtf(sn * sn - up * up);
            float dt = down - s;
            for (size_t k = 0; k < n; k++) x[k] = x[k] + (x[k] - den[k]) / s * dt;
            if (sn > 0) {
                io->noise(io->user, i, noise, n);
                for (size_t k = 0; k < n; k++) x[k] = x[k] + noise[k] * up;
            }
            break;
        }
        case SAMPLER_DPMPP_2M: {
            if (sn == 0) { /* t_next = inf: the step lands on the denoised estimate */
                memcpy(x, den, sizeof(float) * n);
            } else {
                float t = -logf(s), tn = -logf(sn), h = tn - t;
                float ratio = expf(-tn) / expf(-t), e = -expm1f(-h);
                if (!have_old) {
                    for (size_t k = 0; k < n; k++) x[k] = ratio * x[k] + e * den[k];
                } else {
                    float hl = t - (-logf(sigmas[i - 1])), r = hl / h;
                    float a = 1.f + 1.f / (2.f * r), b = 1.f / (2.f * r);
                    for (size_t k = 0; k < n; k++) x[k] = ratio * x[k] + e * (a * den[k] - b * old[k]);
                }
            }
            memcpy(old, den, sizeof(float) * n);
            have_old = 1;
            break;
        }
        case SAMPLER_LCM:
            memcpy(x, den, sizeof(float) * n);
            if (sn > 0) {
                io->noise(io->user, i, noise, n);
                for (size_t k = 0; k < n; k++) x[k] += sn * noise[k];
            }
            break;
        default: return -1;
        }
    }
    return 0;
}
