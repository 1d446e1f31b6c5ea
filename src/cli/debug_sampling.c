/* debug_sampling.c - `imgapi debug sampler` (schedules and samplers on the golden noise) and
 * `imgapi debug rng` (torch-compatible draws). */
#include "cli/debug.h"
#include "common/status.h"
#include "engine/sampling/rng.h"
#include "engine/sampling/sampler.h"
#include "engine/sampling/schedule.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The two analytic denoisers of the golden sampler check. */
typedef struct {
    const schedule_t *sched;
    int wrapped; /* 0: D(x) = 0.5 x; 1: eps model tanh(x_in) t / 1000 + 0.1 through c_in, c_out */
    const float *anc; /* [steps][n] ancestral noise */
    size_t n;
    float *x_steps, *d_steps; /* [steps][n] */
} dbg_sampler_t;

static int dbg_denoise(void *user, const float *x, float sigma, float *den) {
    dbg_sampler_t *d = user;
    if (!d->wrapped) {
        for (size_t k = 0; k < d->n; k++) den[k] = 0.5f * x[k];
        return 0;
    }
    float c_in = 1.f / sqrtf(sigma * sigma + 1.f), c_out = -sigma, t = schedule_sigma_to_t(d->sched, sigma);
    for (size_t k = 0; k < d->n; k++) den[k] = x[k] + (tanhf(x[k] * c_in) * t / 1000.f + 0.1f) * c_out;
    return 0;
}

static void dbg_noise(void *user, int step, float *out, size_t n) {
    dbg_sampler_t *d = user;
    memcpy(out, d->anc + (size_t)step * d->n, sizeof(float) * n);
}

static int dbg_step(void *user, int step, int steps, const float *x, const float *den) {
    (void)steps;
    dbg_sampler_t *d = user;
    memcpy(d->x_steps + (size_t)step * d->n, x, sizeof(float) * d->n);
    memcpy(d->d_steps + (size_t)step * d->n, den, sizeof(float) * d->n);
    return 0;
}

/* Writes the schedules and the outputs of every sampler on the golden noise (schedules set). */
int debug_sampler(const char *inputs, const char *out) {
    char err[512];
    st_file_t *inf = NULL;
    st_writer_t *w = NULL;
    float *noise = NULL, *anc = NULL, *buf = NULL;
    int rc = 1;
    static schedule_t s;
    schedule_init(&s, 0.00085, 0.012);
    if (st_open(inputs, &inf, err, sizeof err) || st_writer_new(&w)) {
        fprintf(stderr, "imgapi: %s\n", err);
        goto out;
    }
    const st_tensor_t *tn, *ta;
    noise = dbg_read_f32(inf, "sampler.noise_init", NULL, &tn);
    anc = dbg_read_f32(inf, "sampler.ancestral_noise", NULL, &ta);
    int steps = 4;
    if (!noise || !anc || ta->shape[0] < steps - 1 || ta->numel / ta->shape[0] != tn->numel) {
        fprintf(stderr, "imgapi: %s: needs sampler.noise_init and sampler.ancestral_noise\n", inputs);
        goto out;
    }
    size_t n = (size_t)tn->numel;
    int64_t s1000[1] = {SCHED_T};
    double ac64[SCHED_T];
    memcpy(ac64, s.alphas_cumprod64, sizeof ac64);
    int ok = !st_writer_add(w, "alphas_cumprod", ST_F32, 1, s1000, s.alphas_cumprod) &&
             !st_writer_add(w, "alphas_cumprod_f64", ST_F64, 1, s1000, ac64) &&
             !st_writer_add(w, "betas_f64", ST_F64, 1, s1000, s.betas) &&
             !st_writer_add(w, "sigmas_all", ST_F32, 1, s1000, s.sigmas) &&
             !st_writer_add(w, "log_sigmas_all", ST_F32, 1, s1000, s.log_sigmas);
    float mm[2] = {s.sigmas[0], s.sigmas[SCHED_T - 1]};
    int64_t s2[1] = {2};
    ok = ok && !st_writer_add(w, "sigma_min_max", ST_F32, 1, s2, mm);
    static const int NS[3] = {1, 4, 20};
    float sig[1025], ts[1024];
    char name[96];
    for (int i = 0; i < 3 && ok; i++) {
        schedule_discrete(&s, NS[i], sig);
        for (int k = 0; k < NS[i]; k++) ts[k] = schedule_sigma_to_t(&s, sig[k]);
        int64_t sh[1] = {NS[i] + 1}, sh2[1] = {NS[i]};
        snprintf(name, sizeof name, "sigmas_discrete_n%d", NS[i]);
        ok = !st_writer_add(w, name, ST_F32, 1, sh, sig);
        snprintf(name, sizeof name, "timesteps_discrete_n%d", NS[i]);
        ok = ok && !st_writer_add(w, name, ST_F32, 1, sh2, ts);
    }
    schedule_karras(20, (double)mm[0], (double)mm[1], 7.0, sig);
    for (int k = 0; k < 20; k++) ts[k] = schedule_sigma_to_t(&s, sig[k]);
    int64_t s21[1] = {21}, s20[1] = {20};
    ok = ok && !st_writer_add(w, "sigmas_karras_n20", ST_F32, 1, s21, sig) &&
         !st_writer_add(w, "timesteps_karras_n20", ST_F32, 1, s20, ts);
    float sig4[5];
    schedule_discrete(&s, steps, sig4);
    buf = malloc(sizeof(float) * n * (1 + 3 + 2 * (size_t)steps));
    if (!buf) ok = 0;
    float *x = buf, *work = buf + n, *xs = work + 3 * n, *ds = xs + (size_t)steps * n;
    for (size_t k = 0; ok && k < n; k++) x[k] = noise[k] * sig4[0];
    int64_t shx[5] = {1, 4, 1, 1, 1};
    for (int d = 0; d < tn->ndim && d < 4; d++) shx[1 + d] = tn->shape[d];
    shx[0] = steps;
    const int64_t *sho = tn->shape;
    if (ok) ok = !st_writer_add(w, "sampler.x_init", ST_F32, tn->ndim, sho, x);
    static const char *const DEN[2] = {"simple", "wrapped_eps"};
    static const sampler_kind_t KINDS[3] = {SAMPLER_EULER, SAMPLER_EULER_A, SAMPLER_DPMPP_2M};
    static const char *const KN[3] = {"euler", "euler_ancestral", "dpmpp_2m"};
    for (int dn = 0; dn < 2 && ok; dn++)
        for (int k = 0; k < 3 && ok; k++) {
            for (size_t q = 0; q < n; q++) x[q] = noise[q] * sig4[0];
            dbg_sampler_t ctx = {&s, dn, anc, n, xs, ds};
            sampler_io_t io = {dbg_denoise, dbg_noise, dbg_step, &ctx};
            sampler_run(KINDS[k], x, n, sig4, steps, &io, work);
            snprintf(name, sizeof name, "sampler.%s.%s.out", DEN[dn], KN[k]);
            ok = !st_writer_add(w, name, ST_F32, tn->ndim, sho, x);
            snprintf(name, sizeof name, "sampler.%s.%s.x_per_step", DEN[dn], KN[k]);
            ok = ok && !st_writer_add(w, name, ST_F32, tn->ndim + 1, shx, xs);
            snprintf(name, sizeof name, "sampler.%s.%s.denoised_per_step", DEN[dn], KN[k]);
            ok = ok && !st_writer_add(w, name, ST_F32, tn->ndim + 1, shx, ds);
        }
    if (!ok || st_writer_save(w, out)) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        goto out;
    }
    rc = 0;
out:
    free(noise);
    free(anc);
    free(buf);
    st_writer_free(w);
    st_close(inf);
    return rc;
}

/* torch.manual_seed(s); randn/rand draws, under the golden rng set's names. */
int debug_rng(const char *inputs, const char *out) {
    char err[512];
    st_file_t *inf = NULL;
    st_writer_t *w = NULL;
    int rc = 1;
    if (st_open(inputs, &inf, err, sizeof err) || st_writer_new(&w)) {
        fprintf(stderr, "imgapi: %s\n", err);
        goto out;
    }
    int ok = 1;
    for (size_t i = 0; i < st_count(inf) && ok; i++) {
        const char *name = st_get(inf, i)->name;
        unsigned long long seed;
        char rest[64];
        if (sscanf(name, "seed%llu.%63s", &seed, rest) != 2 || strcmp(rest, "randn_1x4x8x8") != 0) continue;
        rng_t r;
        float a[256], b[256], c7[7], c20[20], u16[16];
        rng_seed(&r, seed);
        rng_randn(&r, a, 256);
        rng_seed(&r, seed);
        rng_randn(&r, b, 256); /* the 1x4x8x8 draw (256 values) then a second one */
        rng_randn(&r, b, 256);
        rng_seed(&r, seed);
        rng_randn(&r, c7, 7);
        rng_seed(&r, seed);
        rng_randn(&r, c20, 20);
        rng_seed(&r, seed);
        rng_rand(&r, u16, 16);
        int64_t s4[4] = {1, 4, 8, 8}, s7[1] = {7}, s20[1] = {20}, s16[1] = {16};
        char nm[96];
#define ADD(suffix, nd, sh, data) (snprintf(nm, sizeof nm, "seed%llu.%s", seed, suffix), !st_writer_add(w, nm, ST_F32, nd, sh, data))
        ok = ADD("randn_1x4x8x8", 4, s4, a) && ADD("randn_1x4x8x8_second_call", 4, s4, b) &&
             ADD("randn_7", 1, s7, c7) && ADD("randn_20", 1, s20, c20) && ADD("rand_16", 1, s16, u16);
#undef ADD
    }
    if (!ok || st_writer_save(w, out)) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        goto out;
    }
    rc = 0;
out:
    st_writer_free(w);
    st_close(inf);
    return rc;
}

