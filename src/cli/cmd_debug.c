/* cmd_debug.c - `imgapi debug COMPONENT --weights W --inputs I --out O`: runs one engine part on
 * inputs from a file and writes its outputs with the tensor names of the golden sets. */
#include "cli/cli.h"
#include "common/status.h"
#include "engine/io/safetensors.h"
#include "engine/models/clip.h"
#include "engine/models/unet.h"
#include "engine/models/tiny_vae.h"
#include "engine/models/vae.h"
#include "engine/sampling/rng.h"
#include "engine/sampling/sampler.h"
#include "engine/sampling/schedule.h"
#include <math.h>
#include "engine/kernels/ops.h"
#include "engine/runtime/engine_ctx.h"
#include "engine/text/tokenizer.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *ids_json(const int32_t *ids, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_integer(ids[i]));
    return a;
}

static int debug_tokenizer(const char *weights, const char *inputs, const char *out) {
    char err[512];
    tokenizer_t *t;
    if (tok_load(weights, &t, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    json_error_t je;
    json_t *in = json_load_file(inputs, 0, &je);
    json_t *cases = in ? json_object_get(in, "cases") : NULL;
    if (!json_is_array(cases)) {
        fprintf(stderr, "imgapi: %s: expected {\"cases\": [{\"name\", \"prompt\"}]}\n", inputs);
        json_decref(in);
        tok_free(t);
        return 1;
    }
    json_t *res = json_array();
    size_t i;
    json_t *c;
    int rc = 0;
    json_array_foreach(cases, i, c) {
        const char *prompt = json_string_value(json_object_get(c, "prompt"));
        if (!prompt) continue;
        int32_t *ids;
        size_t n;
        if (tok_encode(t, prompt, &ids, &n)) {
            rc = 1;
            break;
        }
        int32_t pad0[TOK_CONTEXT], padeot[TOK_CONTEXT];
        int eot = tok_context(t, ids, n, 0, pad0);
        tok_context(t, ids, n, tok_eot(t), padeot);
        json_array_append_new(res, json_pack("{s:O, s:o, s:o, s:o, s:i}", "name",
                                             json_object_get(c, "name"), "bpe_ids", ids_json(ids, n),
                                             "tokens_77_pad0", ids_json(pad0, TOK_CONTEXT),
                                             "tokens_77_pad_eot", ids_json(padeot, TOK_CONTEXT),
                                             "eot_index", eot));
        free(ids);
    }
    json_t *root = json_pack("{s:o}", "cases", res);
    if (rc == 0 && json_dump_file(root, out, JSON_COMPACT) != 0) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        rc = 1;
    }
    json_decref(root);
    json_decref(in);
    tok_free(t);
    return rc;
}

/* Reads tokens [B, 77] and writes the golden set's output names. */
static int debug_text_encoder(const config_t *cfg, const char *weights, const char *inputs, const char *out,
                              const char *prefix) {
    char err[512];
    st_file_t *wf = NULL, *inf = NULL;
    clip_t *clip = NULL;
    kctx_t kc = {0};
    st_writer_t *w = NULL;
    float *buf = NULL;
    int32_t *tok = NULL;
    int rc = 1;
    if (st_open(weights, &wf, err, sizeof err) || st_open(inputs, &inf, err, sizeof err) ||
        clip_load(wf, prefix, &clip, err, sizeof err) ||
        kctx_create(cfg->threads, cfg->isa, &kc, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        goto out;
    }
    const st_tensor_t *t = st_find(inf, "tokens");
    const clip_info_t *I = clip_info(clip);
    if (!t || t->ndim != 2 || t->shape[1] != I->context) {
        fprintf(stderr, "imgapi: %s: needs a 'tokens' tensor [B, %d]\n", inputs, I->context);
        goto out;
    }
    int B = (int)t->shape[0], T = I->context, W = I->width, L = I->layers;
    size_t plane = (size_t)T * W;
    float *tf = malloc(sizeof(float) * (size_t)t->numel);
    tok = malloc(sizeof(int32_t) * (size_t)t->numel);
    /* hidden [L+1][B][T][W], last, penult, penult_ln [B][T][W], pooled [B][W], proj [B][P] */
    size_t P = (size_t)(I->proj_dim ? I->proj_dim : 1);
    buf = malloc(sizeof(float) * ((size_t)(L + 1) * B * plane + 3 * (size_t)B * plane + (size_t)B * W + (size_t)B * P + (size_t)(L + 1) * plane));
    if (!tf || !tok || !buf || st_to_f32(t, tf, (size_t)t->numel)) {
        free(tf);
        fprintf(stderr, "imgapi: out of memory\n");
        goto out;
    }
    for (int64_t i = 0; i < t->numel; i++) tok[i] = (int32_t)tf[i];
    free(tf);
    float *hidden = buf, *last = hidden + (size_t)(L + 1) * B * plane, *pen = last + (size_t)B * plane;
    float *penln = pen + (size_t)B * plane, *pooled = penln + (size_t)B * plane, *proj = pooled + (size_t)B * W;
    float *hall = proj + (size_t)B * P;
    for (int b = 0; b < B; b++) {
        clip_out_t o = {.hidden_all = hall, .last = last + b * plane, .penultimate = pen + b * plane,
                        .penultimate_ln = penln + b * plane, .pooled = pooled + (size_t)b * W,
                        .pooled_proj = I->proj_dim ? proj + (size_t)b * P : NULL};
        if (clip_forward(clip, &kc, tok + (size_t)b * T, &o)) {
            fprintf(stderr, "imgapi: token ids outside the vocabulary\n");
            goto out;
        }
        for (int l = 0; l <= L; l++) memcpy(hidden + ((size_t)l * B + b) * plane, hall + (size_t)l * plane, sizeof(float) * plane);
    }
    int64_t sh4[4] = {L + 1, B, T, W}, sh3[3] = {B, T, W}, sh2[2] = {B, W}, shp[2] = {B, (int64_t)P};
    if (st_writer_new(&w) || st_writer_add(w, "hidden_states", ST_F32, 4, sh4, hidden) ||
        st_writer_add(w, "last_hidden_state", ST_F32, 3, sh3, last) ||
        st_writer_add(w, "penultimate_hidden_state", ST_F32, 3, sh3, pen) ||
        st_writer_add(w, "penultimate_ln_final", ST_F32, 3, sh3, penln) ||
        (I->proj_dim ? st_writer_add(w, "pooled_projected", ST_F32, 2, shp, proj) : 0) ||
        (I->layout == CLIP_LAYOUT_HF ? st_writer_add(w, "pooled_unprojected", ST_F32, 2, sh2, pooled) : 0) ||
        st_writer_save(w, out)) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        goto out;
    }
    rc = 0;
out:
    st_writer_free(w);
    free(buf);
    free(tok);
    clip_free(clip);
    kctx_destroy(&kc);
    st_close(wf);
    st_close(inf);
    return rc;
}

/* Taps write each intermediate (NCHW, batch 1) as K.intermediate.NAME. */
typedef struct {
    st_writer_t *w;
    const char *key;
    int failed;
} tap_ctx_t;

static void tap_write(void *user, const char *name, const float *x, int h, int w, int c) {
    tap_ctx_t *t = user;
    float *nchw = malloc(sizeof(float) * (size_t)h * w * c);
    char full[128];
    if (t->key[0])
        snprintf(full, sizeof full, "%s.intermediate.%s", t->key, name);
    else
        snprintf(full, sizeof full, "intermediate.%s", name);
    int64_t shape4[4] = {1, c, h, w}, shape2[2] = {1, c};
    if (!nchw) {
        t->failed = 1;
        return;
    }
    op_nhwc_to_nchw(x, h, w, c, nchw);
    if (h == 1 && w == 1 ? st_writer_add(t->w, full, ST_F32, 2, shape2, nchw)
                         : st_writer_add(t->w, full, ST_F32, 4, shape4, nchw))
        t->failed = 1;
    free(nchw);
}

static float *read_f32(const st_file_t *f, const char *name, int64_t *numel, const st_tensor_t **t) {
    *t = st_find(f, name);
    if (!*t) return NULL;
    float *p = malloc(sizeof(float) * (size_t)((*t)->numel + 1));
    if (p && st_to_f32(*t, p, (size_t)(*t)->numel)) {
        free(p);
        return NULL;
    }
    if (numel) *numel = (*t)->numel;
    return p;
}

/* For every case K with K.x [B, C, H, W], K.timesteps [B], K.context [B, T, D] (and K.y [B, A]
 * for SDXL): writes K.out and K.intermediate.*. */
static int debug_unet(const config_t *cfg, const char *weights, const char *inputs, const char *out) {
    char err[512];
    st_file_t *wf = NULL, *inf = NULL;
    unet_t *u = NULL;
    kctx_t kc = {0};
    st_writer_t *w = NULL;
    int rc = 1, cases = 0;
    if (st_open(weights, &wf, err, sizeof err) || st_open(inputs, &inf, err, sizeof err) ||
        unet_load(wf, &u, err, sizeof err) || kctx_create(cfg->threads, cfg->isa, &kc, err, sizeof err) ||
        st_writer_new(&w)) {
        fprintf(stderr, "imgapi: %s\n", err);
        goto out;
    }
    const unet_info_t *I = unet_info(u);
    for (size_t i = 0; i < st_count(inf); i++) {
        const char *name = st_get(inf, i)->name;
        size_t l = strlen(name);
        if (l < 3 || strcmp(name + l - 2, ".x") != 0 || l > 60) continue;
        char key[64], nm[96];
        snprintf(key, sizeof key, "%.*s", (int)(l - 2), name);
        const st_tensor_t *tx, *tt, *tc, *ty = NULL;
        float *x = read_f32(inf, name, NULL, &tx);
        snprintf(nm, sizeof nm, "%s.timesteps", key);
        float *ts = read_f32(inf, nm, NULL, &tt);
        snprintf(nm, sizeof nm, "%s.context", key);
        float *ctx = read_f32(inf, nm, NULL, &tc);
        snprintf(nm, sizeof nm, "%s.y", key);
        float *y = read_f32(inf, nm, NULL, &ty);
        int ok = x && ts && ctx && tx->ndim == 4 && tx->shape[1] == I->in_ch && tc->ndim == 3 &&
                 tc->shape[2] == I->ctx_dim && tt->numel == tx->shape[0] && tc->shape[0] == tx->shape[0] &&
                 (I->adm_in ? y && ty->numel == tx->shape[0] * I->adm_in : 1);
        float *o = ok ? malloc(sizeof(float) * (size_t)tx->numel / (size_t)I->in_ch * (size_t)I->out_ch) : NULL;
        if (!ok || !o) {
            fprintf(stderr, "imgapi: case %s: inputs missing or of the wrong shape\n", key);
            free(x); free(ts); free(ctx); free(y); free(o);
            goto out;
        }
        int B = (int)tx->shape[0], H = (int)tx->shape[2], W = (int)tx->shape[3], T = (int)tc->shape[1];
        size_t in_plane = (size_t)I->in_ch * H * W, out_plane = (size_t)I->out_ch * H * W;
        for (int b = 0; b < B && ok; b++) {
            tap_ctx_t tap = {w, key, 0};
            if (unet_forward(u, &kc, x + b * in_plane, H, W, ts[b], ctx + (size_t)b * T * I->ctx_dim, T,
                             y ? y + (size_t)b * I->adm_in : NULL, o + b * out_plane, b == 0 ? tap_write : NULL,
                             &tap) || tap.failed)
                ok = 0;
        }
        snprintf(nm, sizeof nm, "%s.out", key);
        if (ok && st_writer_add(w, nm, ST_F32, 4, tx->shape, o)) ok = 0;
        free(x); free(ts); free(ctx); free(y); free(o);
        if (!ok) {
            fprintf(stderr, "imgapi: case %s: the UNet could not run (sizes must halve evenly)\n", key);
            goto out;
        }
        cases++;
    }
    if (!cases) {
        fprintf(stderr, "imgapi: %s has no case K with K.x, K.timesteps and K.context\n", inputs);
        goto out;
    }
    if (st_writer_save(w, out)) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        goto out;
    }
    rc = 0;
out:
    st_writer_free(w);
    unet_free(u);
    kctx_destroy(&kc);
    st_close(wf);
    st_close(inf);
    return rc;
}

/* Reads z [1, 4, h, w] (already divided by the scale factor), writes image and intermediates. */
static int debug_vae(const config_t *cfg, const char *weights, const char *inputs, const char *out) {
    char err[512];
    st_file_t *wf = NULL, *inf = NULL;
    vae_t *v = NULL;
    kctx_t kc = {0};
    st_writer_t *w = NULL;
    float *z = NULL, *img = NULL;
    int rc = 1;
    if (st_open(weights, &wf, err, sizeof err) || st_open(inputs, &inf, err, sizeof err) ||
        vae_load(wf, &v, err, sizeof err) || kctx_create(cfg->threads, cfg->isa, &kc, err, sizeof err) ||
        st_writer_new(&w)) {
        fprintf(stderr, "imgapi: %s\n", err);
        goto out;
    }
    const st_tensor_t *tz;
    z = read_f32(inf, "z", NULL, &tz);
    if (!z || tz->ndim != 4 || tz->shape[0] != 1 || tz->shape[1] != vae_latent_channels(v)) {
        fprintf(stderr, "imgapi: %s: needs 'z' [1, %d, h, w]\n", inputs, vae_latent_channels(v));
        goto out;
    }
    int h = (int)tz->shape[2], wd = (int)tz->shape[3], s = vae_upscale(v);
    img = malloc(sizeof(float) * 3 * (size_t)h * wd * s * s);
    tap_ctx_t tap = {w, "", 0};
    tap_ctx_t *tp = &tap;
    if (!img || vae_decode(v, &kc, z, h, wd, img, tap_write, tp) || tap.failed) {
        fprintf(stderr, "imgapi: the VAE decoder could not run\n");
        goto out;
    }
    int64_t shape[4] = {1, 3, (int64_t)h * s, (int64_t)wd * s};
    if (st_writer_add(w, "image", ST_F32, 4, shape, img) || st_writer_save(w, out)) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        goto out;
    }
    rc = 0;
out:
    free(z);
    free(img);
    st_writer_free(w);
    vae_free(v);
    kctx_destroy(&kc);
    st_close(wf);
    st_close(inf);
    return rc;
}

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
static int debug_sampler(const char *inputs, const char *out) {
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
    noise = read_f32(inf, "sampler.noise_init", NULL, &tn);
    anc = read_f32(inf, "sampler.ancestral_noise", NULL, &ta);
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
static int debug_rng(const char *inputs, const char *out) {
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

/* Reads latent [1, c, h, w] (diffusion space), writes image [1, 3, s*h, s*w] in [0, 1]. */
static int debug_tiny(const config_t *cfg, const char *weights, const char *inputs, const char *out) {
    char err[512];
    st_file_t *wf = NULL, *inf = NULL;
    tiny_vae_t *t = NULL;
    kctx_t kc = {0};
    st_writer_t *w = NULL;
    float *z = NULL, *img = NULL;
    int rc = 1;
    if (st_open(weights, &wf, err, sizeof err) || st_open(inputs, &inf, err, sizeof err) ||
        tiny_vae_load(wf, &t, err, sizeof err) || kctx_create(cfg->threads, cfg->isa, &kc, err, sizeof err) ||
        st_writer_new(&w)) {
        fprintf(stderr, "imgapi: %s\n", err);
        goto out;
    }
    const st_tensor_t *tz;
    z = read_f32(inf, "latent", NULL, &tz);
    if (!z || tz->ndim != 4 || tz->shape[0] != 1 || tz->shape[1] != tiny_vae_latent_channels(t)) {
        fprintf(stderr, "imgapi: %s: needs 'latent' [1, %d, h, w]\n", inputs, tiny_vae_latent_channels(t));
        goto out;
    }
    int h = (int)tz->shape[2], wd = (int)tz->shape[3], s = tiny_vae_upscale(t);
    img = malloc(sizeof(float) * 3 * (size_t)h * wd * s * s);
    int64_t shape[4] = {1, 3, (int64_t)h * s, (int64_t)wd * s};
    if (!img || tiny_vae_decode(t, &kc, z, h, wd, img) || st_writer_add(w, "image", ST_F32, 4, shape, img) ||
        st_writer_save(w, out)) {
        fprintf(stderr, "imgapi: the tiny decoder could not run or write %s\n", out);
        goto out;
    }
    rc = 0;
out:
    free(z);
    free(img);
    st_writer_free(w);
    tiny_vae_free(t);
    kctx_destroy(&kc);
    st_close(wf);
    st_close(inf);
    return rc;
}

int cmd_debug(int argc, char **argv, const cli_env_t *env) {
    (void)env;
    config_t cfg;
    config_defaults(&cfg);
    static const char *const extra[] = {"weights", "inputs", "out", "prefix"};
    const char *v[4] = {0};
    const char *pos[1];
    int npos;
    int rc = cli_parse_common(argc, argv, &cfg, pos, &npos, 1, extra, v, 4);
    if (rc) return rc;
    int needs_weights = npos == 1 && strcmp(pos[0], "sampler") != 0 && strcmp(pos[0], "rng") != 0;
    if (npos != 1 || (needs_weights && !v[0]) || !v[1] || !v[2]) {
        fprintf(stderr, "usage: imgapi debug COMPONENT --weights W --inputs I --out O [--prefix P]\n"
                        "components: tokenizer, text-encoder, unet, vae-decoder, tiny-decoder, sampler, rng\n"
                        "(sampler and rng take no --weights)\n");
        return 2;
    }
    if (!strcmp(pos[0], "tokenizer")) return debug_tokenizer(v[0], v[1], v[2]);
    if (!strcmp(pos[0], "text-encoder")) return debug_text_encoder(&cfg, v[0], v[1], v[2], v[3]);
    if (!strcmp(pos[0], "unet")) return debug_unet(&cfg, v[0], v[1], v[2]);
    if (!strcmp(pos[0], "vae-decoder")) return debug_vae(&cfg, v[0], v[1], v[2]);
    if (!strcmp(pos[0], "tiny-decoder")) return debug_tiny(&cfg, v[0], v[1], v[2]);
    if (!strcmp(pos[0], "sampler")) return debug_sampler(v[1], v[2]);
    if (!strcmp(pos[0], "rng")) return debug_rng(v[1], v[2]);
    fprintf(stderr, "imgapi: unknown debug component '%s'\n", pos[0]);
    return 2;
}
