/* schedule.h - the discrete DDPM noise schedule SD was trained with, and the sigma sequences the
 * samplers walk (k-diffusion's conventions: sigma = sqrt((1 - alphabar) / alphabar)). */
#ifndef IMGAPI_ENGINE_SAMPLING_SCHEDULE_H
#define IMGAPI_ENGINE_SAMPLING_SCHEDULE_H

#define SCHED_T 1000

typedef struct {
    double betas[SCHED_T], alphas_cumprod64[SCHED_T];
    float alphas_cumprod[SCHED_T]; /* the f32 buffer the model holds */
    float sigmas[SCHED_T], log_sigmas[SCHED_T];
} schedule_t;

/* SD's "scaled linear": betas = linspace(sqrt(b0), sqrt(b1), 1000)^2. */
void schedule_init(schedule_t *s, double beta_start, double beta_end);
float schedule_t_to_sigma(const schedule_t *s, float t);
float schedule_sigma_to_t(const schedule_t *s, float sigma);
/* n steps + a trailing 0: t = linspace(999, 0, n). */
void schedule_discrete(const schedule_t *s, int n, float *sigmas);
/* Karras et al. (rho = 7 in SD practice), n steps + 0. */
void schedule_karras(int n, double sigma_min, double sigma_max, double rho, float *sigmas);
/* "Trailing" timesteps for few-step (turbo) models: t_i = 999 - i * 1000 / n, + 0. */
void schedule_trailing(const schedule_t *s, int n, float *sigmas);
/* torch.linspace in f32 (both halves computed from their own end, as torch does). */
void linspace_f32(float start, float end, int n, float *out);

#endif
