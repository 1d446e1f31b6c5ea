/* fake_backend.c - the deterministic test generator (see fake_backend.h). */
#include "tests/support/fake_backend.h"
#include "common/status.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fb_list(void *ctx, const config_t *cfg, model_profile_t **out, size_t *n, char *err,
                   size_t errlen) {
    (void)ctx;
    (void)cfg;
    (void)err;
    (void)errlen;
    model_profile_t *p = calloc(2, sizeof *p);
    if (!p) return IMG_ENOMEM;
    strcpy(p[0].id, "test-model");
    strcpy(p[0].description, "deterministic test generator");
    p[0].default_size = SIZE_1024x1024;
    p[0].default_quality = QUALITY_MEDIUM;
    p[0].default_background = BACKGROUND_OPAQUE;
    p[0].can_edit = p[0].can_inpaint = 1;
    p[0].max_input_images = 1;
    p[0].settings = (api_settings_t){.steps = 20, .guidance = 7, .sampler = API_SAMPLER_DPMPP_2M, .schedule = API_SCHEDULE_KARRAS};
    strcpy(p[1].id, "test-model-2");
    strcpy(p[1].description, "second test model");
    p[1].default_size = SIZE_1536x1024;
    p[1].default_quality = QUALITY_LOW;
    p[1].default_background = BACKGROUND_TRANSPARENT;
    p[1].can_edit = 1;
    p[1].max_input_images = 2; /* edits, but no mask */
    p[1].settings = (api_settings_t){.steps = 1, .guidance = 1, .sampler = API_SAMPLER_EULER_A, .schedule = API_SCHEDULE_SGM_UNIFORM};
    *out = p;
    *n = 2;
    return IMG_OK;
}

static int fb_load(void *ctx, const config_t *cfg, const char *id, void **model,
                   gen_load_progress_fn progress, void *user, char *err, size_t errlen) {
    (void)ctx;
    (void)cfg;
    /* IMGAPI_TEST_LOAD_MS: a slow load in four reported quarters */
    const char *ms = getenv("IMGAPI_TEST_LOAD_MS");
    long load_ms = ms ? atol(ms) : 0;
    for (int q = 1; q <= 4 && load_ms > 0; q++) {
        struct timespec ts = {load_ms / 4000, (load_ms / 4 % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (progress) progress(user, q / 4.0);
    }
    /* IMGAPI_TEST_LOAD_FAIL=ID: loading that model fails, as a damaged checkpoint would */
    const char *fail = getenv("IMGAPI_TEST_LOAD_FAIL");
    if (fail && !strcmp(fail, id)) {
        snprintf(err, errlen, "test load failure of '%s'", id);
        return IMG_EMODEL;
    }
    *model = strdup(id);
    return *model ? IMG_OK : IMG_ENOMEM;
}

static int fb_count_tokens(void *model, const char *prompt) {
    (void)model;
    int n = 2, in_word = 0;
    for (const char *p = prompt; *p; p++) {
        int sp = *p == ' ' || *p == '\t' || *p == '\n';
        if (!sp && !in_word) n++;
        in_word = !sp;
    }
    return n;
}

static uint32_t fnv(const char *s, uint32_t h) {
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static int fb_generate(void *model, const gen_params_t *p, gen_progress_fn progress, void *user,
                       img_t *out) {
    (void)model;
    if (strstr(p->prompt, "[fail]")) return IMG_EMODEL;
    /* adapters: one named "misfit..." does not fit; the others mark pixel (0, 0) below */
    for (int i = 0; i < p->nloras; i++)
        if (!strncmp(p->loras[i].name, "misfit", 6)) {
            if (p->message)
                snprintf(p->message, p->message_len, "LoRA '%s' does not fit this model",
                         p->loras[i].name);
            return IMG_EADAPTER;
        }
    const char *ms = getenv("IMGAPI_TEST_STEP_MS");
    long step_ms = ms ? atol(ms) : 0;
    img_t pv = {0}; /* step previews when asked: 64x64, one grey level per step */
    if (p->previews && img_alloc(&pv, 64, 64, 3)) return IMG_ENOMEM;
    for (int step = 1; step <= 4; step++) {
        if (step_ms > 0) {
            struct timespec ts = {step_ms / 1000, (step_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (pv.pixels) memset(pv.pixels, 60 * step, (size_t)64 * 64 * 3);
        if (progress(user, step, 4, pv.pixels ? &pv : NULL)) {
            img_free(&pv);
            return IMG_ECANCELLED;
        }
    }
    img_free(&pv);
    /* Native resolution: 256 on the long side at the requested aspect. */
    int w = p->width >= p->height ? 256 : 256 * p->width / p->height;
    int h = p->height >= p->width ? 256 : 256 * p->height / p->width;
    if (p->init_image) { /* an edit: the input at the working size, colours inverted */
        const img_t *in = p->init_image;
        img_t rgb = {0};
        int rc = img_alloc(&rgb, in->width, in->height, 3);
        if (rc) return rc;
        for (size_t k = 0; k < (size_t)in->width * in->height; k++)
            for (int c = 0; c < 3; c++)
                rgb.pixels[k * 3 + c] = (uint8_t)(255 - in->pixels[k * in->channels + c]);
        rc = img_resize(&rgb, w, h, out);
        img_free(&rgb);
        if (!rc && p->nmore > 0) { /* the last image's mean colour, top left */
            const img_t *last = &p->more_images[p->nmore - 1];
            double sum[3] = {0};
            size_t npx = (size_t)last->width * last->height;
            for (size_t k = 0; k < npx; k++)
                for (int c = 0; c < 3; c++)
                    sum[c] += last->pixels[k * last->channels + (last->channels >= 3 ? c : 0)];
            for (int y = 0; y < 16 && y < h; y++)
                for (int x = 0; x < 16 && x < w; x++)
                    for (int c = 0; c < 3; c++)
                        out->pixels[((size_t)y * w + x) * 3 + c] = (uint8_t)(sum[c] / npx + 0.5);
        }
        return rc;
    }
    int rc = img_alloc(out, w, h, 3);
    if (rc) return rc;
    uint32_t hash = fnv(p->prompt, 2166136261u ^ p->seed);
    uint8_t bg[3] = {(uint8_t)(hash), (uint8_t)(hash >> 8), (uint8_t)(hash >> 16)};
    uint8_t fg[3] = {(uint8_t)(255 - bg[0]), (uint8_t)(255 - bg[1]), (uint8_t)(255 - bg[2])};
    float r = (float)(w < h ? w : h) * 0.3f;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float dx = (float)x - w / 2.f, dy = (float)y - h / 2.f;
            int in = dx * dx + dy * dy < r * r;
            for (int k = 0; k < 3; k++)
                out->pixels[((size_t)y * w + x) * 3 + k] = in ? fg[k] : bg[k];
        }
    if (p->nloras >
        0) /* the top-left 16x16: (count x 40, first scale x 100, first name's length x 10) */
        for (int y = 0; y < 16 && y < h; y++)
            for (int x = 0; x < 16 && x < w; x++) {
                uint8_t *px = out->pixels + ((size_t)y * w + x) * 3;
                px[0] = (uint8_t)(40 * p->nloras);
                px[1] = (uint8_t)(int)(p->loras[0].scale * 100);
                px[2] = (uint8_t)(10 * strlen(p->loras[0].name));
            }
    if (p->settings.steps > 0) /* the top-right 16x16: (steps x 5, sampler x 40, schedule x 40) */
        for (int y = 0; y < 16 && y < h; y++)
            for (int x = w - 16; x < w; x++) {
                uint8_t *px = out->pixels + ((size_t)y * w + x) * 3;
                px[0] = (uint8_t)(5 * p->settings.steps);
                px[1] = (uint8_t)(40 * (int)p->settings.sampler);
                px[2] = (uint8_t)(40 * (int)p->settings.schedule);
            }
    return IMG_OK;
}

static void fb_unload(void *model) {
    free(model);
}

static const gen_backend_t FAKE = {
    .name = "test",
    .ctx = NULL,
    .list = fb_list,
    .load = fb_load,
    .count_tokens = fb_count_tokens,
    .generate = fb_generate,
    .unload = fb_unload,
};

const gen_backend_t *fake_backend(void) {
    return &FAKE;
}
