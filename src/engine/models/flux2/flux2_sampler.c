/* flux2_sampler.c - FLUX.2's schedule and Euler sampler (flux2_sampler.h). */
#include "engine/models/flux2/flux2_sampler.h"
#include "common/status.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* compute_empirical_mu: the shift for seq_len tokens and the step count. */
static double empirical_mu(int seq_len, int steps) {
    const double a1 = 8.73809524e-05, b1 = 1.89833333, a2 = 0.00016927, b2 = 0.45666666;
    if (seq_len > 4300) return a2 * seq_len + b2;
    double m200 = a2 * seq_len + b2, m10 = a1 * seq_len + b1;
    double a = (m200 - m10) / 190.0, b = m200 - 200.0 * a;
    return a * steps + b;
}

void flux2_schedule(int steps, int seq_len, float *times) {
    double e = exp(empirical_mu(seq_len, steps));
    for (int i = 0; i <= steps; i++) {
        double t = 1.0 - (double)i / steps; /* linspace(1, 0, steps + 1) */
        times[i] = t <= 0 ? 0.f : (float)(e / (e + (1 / t - 1)));
    }
}

int flux2_denoise(const flux2_dit_t *m, const kctx_t *kc, float *x, const float *x_ids, int nx,
                  const float *ref, const float *ref_ids, int nref, const float *ctx,
                  const float *ctx_ids, int nt, const float *times, int steps, float guidance) {
    int C = flux2_dit_info(m)->in_channels, n = nx + nref;
    /* the sequence (x, then the references) with its ids, and the prediction; freed here */
    float *seq = malloc(sizeof *seq * (size_t)n * C), *ids = malloc(sizeof *ids * (size_t)n * 4),
          *v = malloc(sizeof *v * (size_t)n * C);
    int rc = seq && ids && v ? IMG_OK : IMG_ENOMEM;
    if (!rc) {
        memcpy(ids, x_ids, sizeof *ids * (size_t)nx * 4);
        if (nref) {
            memcpy(ids + (size_t)nx * 4, ref_ids, sizeof *ids * (size_t)nref * 4);
            memcpy(seq + (size_t)nx * C, ref, sizeof *seq * (size_t)nref * C);
        }
    }
    for (int s = 0; !rc && s < steps; s++) {
        memcpy(seq, x, sizeof *seq * (size_t)nx * C);
        rc = flux2_dit_forward(m, kc, seq, ids, n, times[s], ctx, ctx_ids, nt, guidance, v);
        float dt = times[s + 1] - times[s];
        for (size_t i = 0; !rc && i < (size_t)nx * C; i++)
            x[i] += dt * v[i];
    }
    free(seq);
    free(ids);
    free(v);
    return rc;
}
