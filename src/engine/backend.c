/* backend.c - configured checkpoints as generator models. One generation per model at a time
 * (each model owns its work arenas); the registry loads a model on first use. */
#include "engine/backend.h"
#include "api/request.h"
#include "common/status.h"
#include "common/clock.h"
#include "engine/engine.h"
#include "engine/io/diffusers.h"
#include "engine/sampling/sampler.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The model with a set of adapters merged in (a full copy, built from the base's file). */
typedef struct {
    char key[API_MAX_LORAS * (API_LORA_NAME_MAX + 24)]; /* "name:scale;..." in request order */
    eng_model_t *m;
    pthread_mutex_t mu; /* one generation at a time */
    int users;          /* generations holding it: never evicted meanwhile */
    unsigned long used; /* tick of the last use (least recently used go first) */
} variant_t;

#define MAX_VARIANTS 64

typedef struct {
    eng_model_t *m;
    profile_kind_t kind;
    int native;
    float guidance; /* 0: the profile's */
    pthread_mutex_t mu;
    /* adapters: the settings the base was loaded with, and the merged copies kept */
    const config_t *cfg;
    const config_model_t *cm;
    pthread_mutex_t vmu; /* the list below; held while a copy is merged */
    variant_t *var[MAX_VARIANTS];
    int nvar;
    unsigned long tick;
    long merges;
    double merge_seconds;
} loaded_t;

profile_kind_t engine_profile_kind(const char *profile) {
    return !strcmp(profile, "turbo") ? PROFILE_TURBO : !strcmp(profile, "flux2-klein") ? PROFILE_FLUX2_KLEIN
                                                                                        : PROFILE_STANDARD;
}

void engine_quality_profile(profile_kind_t kind, api_quality_t q, quality_profile_t *o) {
    /* standard SD: DPM++ 2M Karras with guidance 7; turbo: 1-4 trailing steps, no guidance;
     * FLUX.2 [klein] (step-distilled to 4): 2-4 Euler steps on its own shifted schedule, no
     * guidance */
    static const int STD[3] = {10, 20, 30}, TURBO[3] = {1, 2, 4}, KLEIN[3] = {2, 3, 4};
    int i = q == QUALITY_LOW ? 0 : q == QUALITY_MEDIUM ? 1 : 2;
    if (kind == PROFILE_TURBO) {
        o->steps = TURBO[i];
        o->guidance = 1.f;
        o->sampler = SAMPLER_EULER_A;
        o->schedule = ENG_SCHED_TRAILING;
    } else if (kind == PROFILE_FLUX2_KLEIN) {
        o->steps = KLEIN[i];
        o->guidance = 1.f;
        o->sampler = SAMPLER_EULER;
        o->schedule = ENG_SCHED_DISCRETE; /* unused: the family's schedule */
    } else {
        o->steps = STD[i];
        o->guidance = 7.f;
        o->sampler = SAMPLER_DPMPP_2M;
        o->schedule = ENG_SCHED_KARRAS;
    }
}

void engine_apply_settings(const api_settings_t *s, quality_profile_t *q) {
    static const int SAMPLERS[] = {[API_SAMPLER_EULER] = SAMPLER_EULER, [API_SAMPLER_EULER_A] = SAMPLER_EULER_A,
                                   [API_SAMPLER_DPMPP_2M] = SAMPLER_DPMPP_2M, [API_SAMPLER_LCM] = SAMPLER_LCM};
    static const int SCHEDULES[] = {[API_SCHEDULE_UNIFORM] = ENG_SCHED_DISCRETE,
                                    [API_SCHEDULE_KARRAS] = ENG_SCHED_KARRAS,
                                    [API_SCHEDULE_SGM_UNIFORM] = ENG_SCHED_TRAILING};
    if (s->steps > 0) q->steps = s->steps;
    if (s->guidance > 0) q->guidance = s->guidance;
    if (s->sampler > API_SAMPLER_DEFAULT && s->sampler <= API_SAMPLER_LCM) q->sampler = SAMPLERS[s->sampler];
    if (s->schedule > API_SCHEDULE_DEFAULT && s->schedule <= API_SCHEDULE_SGM_UNIFORM)
        q->schedule = SCHEDULES[s->schedule];
}

void engine_profile_settings(const quality_profile_t *q, api_settings_t *s) {
    s->steps = q->steps;
    s->guidance = q->guidance;
    s->sampler = q->sampler == SAMPLER_EULER      ? API_SAMPLER_EULER
                 : q->sampler == SAMPLER_EULER_A  ? API_SAMPLER_EULER_A
                 : q->sampler == SAMPLER_DPMPP_2M ? API_SAMPLER_DPMPP_2M
                                                  : API_SAMPLER_LCM;
    s->schedule = q->schedule == ENG_SCHED_KARRAS     ? API_SCHEDULE_KARRAS
                  : q->schedule == ENG_SCHED_TRAILING ? API_SCHEDULE_SGM_UNIFORM
                                                      : API_SCHEDULE_UNIFORM;
}

void engine_native_size(int native, int multiple, int width, int height, int *w, int *h) {
    int m = multiple > 0 ? multiple : 64;
    native = native < m ? m : native / m * m;
    if (width >= height) {
        *h = native;
        *w = (int)(((long)native * width / height + m / 2) / m * m);
    } else {
        *w = native;
        *h = (int)(((long)native * height / width + m / 2) / m * m);
    }
}

/* imgapi's own model, compiled into the binary (models/imgapi-shapes, trained by train/). */
static const config_model_t BUILTIN = {
    .id = ENGINE_BUILTIN_MODEL,
    .checkpoint = "builtin:imgapi-shapes/model.safetensors",
    .tokenizer = "builtin:imgapi-shapes",
    .tiny_decoder = "builtin:imgapi-shapes/decoder.safetensors",
    .tiny_encoder = "builtin:imgapi-shapes/encoder.safetensors",
    .profile = "standard",
    .prediction = "eps",
    .weights = "file",
    .description = "imgapi's built-in model: simple coloured shapes on plain, gradient or patterned backgrounds",
};

/* m's tokenizer: its setting, else a diffusers folder's tokenizer/ ; NULL when it has none. */
static const char *tokenizer_of(const config_model_t *m, char *buf, size_t n) {
    if (m->tokenizer[0]) return m->tokenizer;
    if (!m->checkpoint[0] || !diffusers_is_folder(m->checkpoint)) return NULL;
    snprintf(buf, n, "%s/tokenizer", m->checkpoint);
    return buf;
}

int engine_models(const config_t *cfg, const config_model_t **out) {
    int n = 0, taken = 0;
    for (int i = 0; i < cfg->nmodels; i++) {
        out[n++] = &cfg->models[i];
        taken |= strcmp(cfg->models[i].id, BUILTIN.id) == 0;
    }
    if (cfg->builtin_model && !taken) out[n++] = &BUILTIN;
    return n;
}

const config_model_t *engine_model(const config_t *cfg, const char *id) {
    const config_model_t *all[CONFIG_MAX_MODELS + 1];
    int n = engine_models(cfg, all);
    for (int i = 0; i < n; i++)
        if (strcmp(all[i]->id, id) == 0) return all[i];
    return NULL;
}

static int eb_list(void *ctx, const config_t *cfg, model_profile_t **out, size_t *n, char *err,
                   size_t errlen) {
    (void)ctx;
    const config_model_t *all[CONFIG_MAX_MODELS + 1];
    int count = engine_models(cfg, all);
    *out = calloc((size_t)(count ? count : 1), sizeof **out);
    if (!*out) return IMG_ENOMEM;
    *n = 0;
    for (int i = 0; i < count; i++) {
        const config_model_t *m = all[i];
        char tok[sizeof ((config_model_t *)0)->checkpoint + 16];
        if (!m->checkpoint[0] || !tokenizer_of(m, tok, sizeof tok)) {
            snprintf(err, errlen,
                     "model '%s' needs model.%s.checkpoint and model.%s.tokenizer (a diffusers folder has its own)",
                     m->id, m->id, m->id);
            free(*out);
            *out = NULL;
            return IMG_EINVAL;
        }
        model_profile_t *p = &(*out)[(*n)++];
        snprintf(p->id, sizeof p->id, "%s", m->id);
        snprintf(p->description, sizeof p->description, "%.*s", (int)sizeof p->description - 1,
                 m->description[0] ? m->description : m->checkpoint);
        p->default_size = SIZE_1024x1024;
        p->default_quality = engine_profile_kind(m->profile) == PROFILE_STANDARD ? QUALITY_MEDIUM : QUALITY_HIGH;
        p->default_background = BACKGROUND_OPAQUE;
        quality_profile_t qp;
        engine_quality_profile(engine_profile_kind(m->profile), p->default_quality, &qp);
        if (engine_profile_kind(m->profile) == PROFILE_STANDARD && m->guidance > 0) qp.guidance = m->guidance;
        engine_profile_settings(&qp, &p->settings);
        /* a checkpoint that cannot be read yet is listed; loading it reports why */
        int edit = 0, inpaint = 0;
        if (eng_probe_edit(m->checkpoint, m->vae, m->tiny_encoder, m->tiny_decoder, &edit, &inpaint) == IMG_OK) {
            p->can_edit = p->can_inpaint = edit > 0;
            p->max_input_images = edit;
        }
        (void)inpaint; /* a 9-channel UNet and a blending one both inpaint */
    }
    return IMG_OK;
}

/* The engine's load options for configured model m; tok holds the tokenizer's path when it is
 * the diffusers folder's own. */
void engine_load_opts(const config_t *cfg, const config_model_t *m, eng_load_opts_t *o, char *tok, size_t toklen) {
    *o =
        (eng_load_opts_t){.checkpoint = m->checkpoint,
                          .tokenizer = tokenizer_of(m, tok, toklen),
                          .vae = m->vae,
                          .text_encoder = m->text_encoder,
                          .tiny_decoder = m->tiny_decoder,
                          .tiny_encoder = m->tiny_encoder,
                          .prediction = strcmp(m->prediction, "v") == 0 ? ENG_PRED_V : ENG_PRED_EPS,
                          .weights_q8 = strcmp(m->weights, "q8") == 0,
                          .weights_auto = strcmp(m->weights, "auto") == 0,
                          .release_text_encoder = m->release_text_encoder,
                          .threads = cfg->threads,
                          .isa = cfg->isa,
                          .precision = cfg->precision,
                          .vae_tile = cfg->vae_tile,
                          .vae_tile_overlap = cfg->vae_tile_overlap,
                          .embeddings_dir = cfg->embeddings_dir};
}

static int eb_load(void *ctx, const config_t *cfg, const char *id, void **model,
                   gen_load_progress_fn progress, void *user, char *err, size_t errlen) {
    (void)ctx;
    const config_model_t *m = engine_model(cfg, id);
    if (!m) {
        snprintf(err, errlen, "model '%s' is not configured", id);
        return IMG_ENOTFOUND;
    }
    loaded_t *l = calloc(1, sizeof *l);
    if (!l) return IMG_ENOMEM;
    eng_load_opts_t o;
    char tok[sizeof ((config_model_t *)0)->checkpoint + 16];
    engine_load_opts(cfg, m, &o, tok, sizeof tok);
    o.progress = progress;
    o.progress_user = user;
    int rc = eng_load(&o, &l->m, err, errlen);
    if (rc) {
        free(l);
        return rc;
    }
    l->cfg = cfg;
    l->cm = m;
    pthread_mutex_init(&l->vmu, NULL);
    l->kind = engine_profile_kind(m->profile);
    l->native = m->native ? m->native : eng_info(l->m)->native;
    l->guidance = m->guidance;
    pthread_mutex_init(&l->mu, NULL);
    *model = l;
    return IMG_OK;
}

static void variant_free(variant_t *v) {
    eng_free(v->m);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

/* The copy of l's model with p's adapters merged: a kept one, or one merged now (and kept,
 * least recently used idle copies making room; uncached when every kept one is in use). */
static int acquire_variant(loaded_t *l, const gen_params_t *p, variant_t **out) {
    char key[sizeof((variant_t *)0)->key] = "";
    for (int i = 0; i < p->nloras; i++) {
        size_t o = strlen(key);
        snprintf(key + o, sizeof key - o, "%s:%.9g;", p->loras[i].name, (double)p->loras[i].scale);
    }
    pthread_mutex_lock(&l->vmu);
    for (int i = 0; i < l->nvar; i++)
        if (!strcmp(l->var[i]->key, key)) {
            *out = l->var[i];
            (*out)->users++;
            (*out)->used = ++l->tick;
            pthread_mutex_unlock(&l->vmu);
            return IMG_OK;
        }
    lora_spec_t specs[API_MAX_LORAS];
    char paths[API_MAX_LORAS][sizeof l->cfg->lora_dir + API_LORA_NAME_MAX + 16];
    for (int i = 0; i < p->nloras && i < API_MAX_LORAS; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s.safetensors", l->cfg->lora_dir, p->loras[i].name);
        specs[i] = (lora_spec_t){paths[i], p->loras[i].name, p->loras[i].scale};
    }
    eng_load_opts_t o;
    char tok[sizeof ((config_model_t *)0)->checkpoint + 16];
    engine_load_opts(l->cfg, l->cm, &o, tok, sizeof tok);
    o.loras = specs;
    o.nloras = p->nloras < API_MAX_LORAS ? p->nloras : API_MAX_LORAS;
    char err[300] = "";
    double t0 = clock_mono();
    variant_t *v = calloc(1, sizeof *v); /* owned by l's list, or by the caller until released */
    int rc = v ? eng_load(&o, &v->m, err, sizeof err) : IMG_ENOMEM;
    if (rc) {
        free(v);
        pthread_mutex_unlock(&l->vmu);
        if (rc == IMG_EADAPTER && p->message) snprintf(p->message, p->message_len, "%s", err);
        return rc;
    }
    l->merges++;
    l->merge_seconds += clock_mono() - t0;
    snprintf(v->key, sizeof v->key, "%s", key);
    pthread_mutex_init(&v->mu, NULL);
    v->users = 1;
    v->used = ++l->tick;
    int cap = l->cfg->lora_cache < MAX_VARIANTS ? l->cfg->lora_cache : MAX_VARIANTS;
    while (l->nvar >= cap) {
        int lru = -1;
        for (int i = 0; i < l->nvar; i++)
            if (!l->var[i]->users && (lru < 0 || l->var[i]->used < l->var[lru]->used)) lru = i;
        if (lru < 0) break;
        variant_free(l->var[lru]);
        l->var[lru] = l->var[--l->nvar];
    }
    if (l->nvar < cap) l->var[l->nvar++] = v;
    else v->used = 0; /* not kept: freed when released */
    pthread_mutex_unlock(&l->vmu);
    *out = v;
    return IMG_OK;
}

static void release_variant(loaded_t *l, variant_t *v) {
    pthread_mutex_lock(&l->vmu);
    v->users--;
    int kept = 0;
    for (int i = 0; i < l->nvar; i++) kept |= l->var[i] == v;
    if (!kept && !v->users) variant_free(v);
    pthread_mutex_unlock(&l->vmu);
}

static void eb_adapter_stats(void *model, long *merges, double *seconds) {
    loaded_t *l = model;
    pthread_mutex_lock(&l->vmu);
    *merges = l->merges;
    *seconds = l->merge_seconds;
    pthread_mutex_unlock(&l->vmu);
}

static int eb_count_tokens(void *model, const char *prompt) {
    loaded_t *l = model;
    return eng_count_tokens(l->m, prompt);
}

/* background: transparent asks the model for a plain background that the matte can separate,
 * unless the prompt already says what the background is. Returns prompt or a malloc'd string
 * (*owned set, caller frees). */
static const char *steer_plain_background(const char *prompt, char **owned) {
    *owned = NULL;
    if (strcasestr(prompt, "background")) return prompt;
    const char *bg = strcasestr(prompt, "white") ? "black" : "white";
    size_t n = strlen(prompt) + 32;
    if (!(*owned = malloc(n))) return prompt;
    snprintf(*owned, n, "%s on a %s background", prompt, bg);
    return *owned;
}

static int eb_generate(void *model, const gen_params_t *p, gen_progress_fn progress, void *user,
                       img_t *out) {
    loaded_t *l = model;
    quality_profile_t q;
    engine_quality_profile(l->kind, p->quality, &q);
    if (l->kind == PROFILE_STANDARD && l->guidance > 0) q.guidance = l->guidance;
    engine_apply_settings(&p->settings, &q);
    char *steered = NULL;
    const char *prompt = p->transparent ? steer_plain_background(p->prompt, &steered) : p->prompt;
    eng_params_t e = {.prompt = prompt, .negative_prompt = p->negative_prompt, .steps = q.steps,
                      .guidance = q.guidance, .sampler = q.sampler, .schedule = (eng_schedule_t)q.schedule,
                      .seed = p->seed, .fast_decode = p->quality == QUALITY_LOW, .previews = p->previews};
    engine_native_size(l->native, eng_info(l->m)->multiple, p->width, p->height, &e.width, &e.height);
    /* an edit: the input and its mask at the working size */
    img_t init = {0}, *more = NULL; /* the inputs at the working size */
    const img_t *more_ptr[API_MAX_INPUT_IMAGES - 1];
    uint8_t *mask = NULL;
    int rc = IMG_OK;
    if (p->init_image) {
        if (!eng_info(l->m)->can_edit || p->nmore < 0 || 1 + p->nmore > eng_info(l->m)->max_images ||
            p->nmore > (int)(sizeof more_ptr / sizeof more_ptr[0])) {
            free(steered);
            return IMG_EUNSUPPORTED;
        }
        if (p->nmore > 0 && !(more = calloc((size_t)p->nmore, sizeof *more))) rc = IMG_ENOMEM;
        for (int i = 0; !rc && i < p->nmore; i++) {
            rc = img_resize(&p->more_images[i], e.width, e.height, &more[i]);
            more_ptr[i] = &more[i];
        }
        e.more_images = more_ptr;
        e.nmore = p->nmore;
        /* RGB or RGBA alike: the resampling is per channel, the engine reads the first three */
        if (!rc) rc = img_resize(p->init_image, e.width, e.height, &init);
        if (!rc && p->mask)
            rc = img_resize_mask(p->mask, p->init_image->width, p->init_image->height, e.width,
                                 e.height, &mask);
        e.init_image = &init;
        e.mask = mask;
        e.strength = p->strength > 0 && p->strength <= 1 ? p->strength : 0.75f;
    }
    variant_t *v = NULL;
    if (!rc && p->nloras > 0) rc = acquire_variant(l, p, &v);
    if (!rc) {
        pthread_mutex_t *mu = v ? &v->mu : &l->mu;
        pthread_mutex_lock(mu);
        rc = eng_generate(v ? v->m : l->m, &e, progress, user, out);
        pthread_mutex_unlock(mu);
    }
    if (v) release_variant(l, v);
    img_free(&init);
    for (int i = 0; more && i < p->nmore; i++) img_free(&more[i]);
    free(more);
    free(mask);
    free(steered);
    return rc;
}

static void eb_unload(void *model) {
    loaded_t *l = model;
    if (!l) return;
    for (int i = 0; i < l->nvar; i++) variant_free(l->var[i]);
    pthread_mutex_destroy(&l->vmu);
    eng_free(l->m);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static const gen_backend_t ENGINE = {
    .name = "engine",
    .ctx = NULL,
    .list = eb_list,
    .load = eb_load,
    .count_tokens = eb_count_tokens,
    .generate = eb_generate,
    .unload = eb_unload,
    .adapter_stats = eb_adapter_stats,
};

const gen_backend_t *engine_backend(void) { return &ENGINE; }
