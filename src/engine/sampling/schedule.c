/* schedule.c - noise schedules, reproducing the reference's float arithmetic. */
#include "engine/sampling/schedule.h"
#include <math.h>

void linspace_f32(float start, float end, int n, float *out) {
    if (n == 1) {
        out[0] = start;
        return;
    }
    float step = (end - start) / (float)(n - 1);
    int half = n / 2;
    for (int i = 0; i < n; i++) out[i] = i < half ? start + step * (float)i : end - step * (float)(n - 1 - i);
}

static void linspace_f64(double start, double end, int n, double *out) {
    double step = (end - start) / (double)(n - 1);
    int half = n / 2;
    for (int i = 0; i < n; i++) out[i] = i < half ? start + step * (double)i : end - step * (double)(n - 1 - i);
}

void schedule_init(schedule_t *s, double beta_start, double beta_end) {
    linspace_f64(sqrt(beta_start), sqrt(beta_end), SCHED_T, s->betas);
    double prod = 1.0;
    for (int i = 0; i < SCHED_T; i++) {
        s->betas[i] = s->betas[i] * s->betas[i];
        prod *= 1.0 - s->betas[i];
        s->alphas_cumprod64[i] = prod;
        s->alphas_cumprod[i] = (float)prod;
        float ac = s->alphas_cumprod[i];
        s->sigmas[i] = sqrtf((1.f - ac) / ac);
        s->log_sigmas[i] = logf(s->sigmas[i]);
    }
}

float schedule_t_to_sigma(const schedule_t *s, float t) {
    if (t < 0) t = 0;
    if (t > SCHED_T - 1) t = SCHED_T - 1;
    int lo = (int)floorf(t), hi = (int)ceilf(t);
    float w = t - floorf(t);
    float ls = (1.f - w) * s->log_sigmas[lo] + w * s->log_sigmas[hi];
    return expf(ls);
}

float schedule_sigma_to_t(const schedule_t *s, float sigma) {
    float ls = logf(sigma);
    int lo = 0;
    for (int i = 0; i < SCHED_T; i++)
        if (ls - s->log_sigmas[i] >= 0) lo = i;
    if (lo > SCHED_T - 2) lo = SCHED_T - 2;
    float low = s->log_sigmas[lo], high = s->log_sigmas[lo + 1];
    float w = (low - ls) / (low - high);
    w = w < 0 ? 0 : w > 1 ? 1 : w;
    return (1.f - w) * (float)lo + w * (float)(lo + 1);
}

void schedule_discrete(const schedule_t *s, int n, float *sigmas) {
    float t[1024];
    if (n > 1024) n = 1024;
    linspace_f32((float)(SCHED_T - 1), 0.f, n, t);
    for (int i = 0; i < n; i++) sigmas[i] = schedule_t_to_sigma(s, t[i]);
    sigmas[n] = 0.f;
}

void schedule_karras(int n, double sigma_min, double sigma_max, double rho, float *sigmas) {
    float ramp[1024];
    if (n > 1024) n = 1024;
    linspace_f32(0.f, 1.f, n, ramp);
    /* the reference computes these in double (Python floats), then works in f32 */
    float max_inv = (float)pow(sigma_max, 1.0 / rho);
    float diff = (float)(pow(sigma_min, 1.0 / rho) - pow(sigma_max, 1.0 / rho));
    for (int i = 0; i < n; i++) sigmas[i] = powf(max_inv + ramp[i] * diff, (float)rho);
    sigmas[n] = 0.f;
}

void schedule_trailing(const schedule_t *s, int n, float *sigmas) {
    for (int i = 0; i < n; i++) {
        float t = (float)(SCHED_T - 1) - (float)i * ((float)SCHED_T / (float)n);
        sigmas[i] = schedule_t_to_sigma(s, t < 0 ? 0 : t);
    }
    sigmas[n] = 0.f;
}
