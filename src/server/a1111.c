/* a1111.c - the AUTOMATIC1111 / Forge web API routes (a1111.h). A txt2img request is parsed
 * into the same api_request_t as the other routes and runs their admission path: key, model
 * access, moderation, rate limit, reservation, queue, charge. */
#include "server/a1111.h"
#include "api/a1111.h"
#include "common/base64.h"
#include "common/clock.h"
#include "common/status.h"
#include "api/json_body.h"
#include "api/pricing.h"
#include "image/image.h"
#include "server/edit_input.h"
#include "server/generate.h"
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 1024 /* keys with a chosen model */
#define MAX_RUNNING 256

struct a1111 {
    pthread_mutex_t mu;
    struct {
        char key[STORE_KEY_ID_LEN + 1];
        char model[64];
    } chosen[MAX_KEYS];
    int nchosen;
    struct {
        char key[STORE_KEY_ID_LEN + 1];
        job_t *job; /* borrowed: listed only while its handler holds it */
        double started;
        int interrupted;
    } running[MAX_RUNNING];
    int nrunning;
};

int a1111_create(a1111_t **out) {
    *out = calloc(1, sizeof **out); /* owned by the server */
    if (!*out) return IMG_ENOMEM;
    pthread_mutex_init(&(*out)->mu, NULL);
    return IMG_OK;
}

void a1111_free(a1111_t *a) {
    if (!a) return;
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* The model a key chose with POST /sdapi/v1/options into out (cap bytes), or "" */
static void chosen_model(a1111_t *a, const char *key, char *out, size_t cap) {
    out[0] = '\0';
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->nchosen; i++)
        if (!strcmp(a->chosen[i].key, key)) snprintf(out, cap, "%s", a->chosen[i].model);
    pthread_mutex_unlock(&a->mu);
}

static int choose_model(a1111_t *a, const char *key, const char *model) {
    int rc = IMG_OK;
    pthread_mutex_lock(&a->mu);
    int i = 0;
    while (i < a->nchosen && strcmp(a->chosen[i].key, key))
        i++;
    if (i == a->nchosen && a->nchosen == MAX_KEYS) rc = IMG_EBUSY;
    if (!rc) {
        if (i == a->nchosen) a->nchosen++;
        snprintf(a->chosen[i].key, sizeof a->chosen[i].key, "%s", key);
        snprintf(a->chosen[i].model, sizeof a->chosen[i].model, "%s", model);
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* ---- txt2img ---- */

typedef struct {
    admit_t *g;
    a1111_extra_t x;
    api_settings_t eff; /* what runs: the request's settings over the model's */
    int64_t per_image;  /* the price of one image of the batch (a skipped one is not charged) */
} txt_ctx_t;

/* A batch with skipped images (POST /sdapi/v1/skip) is charged for the images it returns. */
static void charge_made(txt_ctx_t *c, int made) {
    int64_t left;
    if (made < c->g->q.n &&
        !__builtin_mul_overflow(c->per_image, (int64_t)(c->g->q.n - made), &left) &&
        left <= c->g->cost)
        c->g->cost -= left;
}

/* The A1111 answer for n encoded images (at most API_MAX_N) with what ran. */
static char *answer_images(const txt_ctx_t *c, const job_image_t *im, int n) {
    const uint8_t *data[API_MAX_N];
    size_t lens[API_MAX_N];
    uint32_t seeds[API_MAX_N];
    if (n > API_MAX_N) n = API_MAX_N;
    for (int i = 0; i < n; i++) {
        data[i] = im[i].data;
        lens[i] = im[i].len;
        seeds[i] = im[i].seed;
    }
    return a1111_answer(&c->g->q, &c->x, c->g->model->id, data, lens, seeds, n, c->eff.steps,
                        c->eff.guidance, A1111_SAMPLERS[c->eff.sampler],
                        A1111_SCHEDULERS[c->eff.schedule]);
}

static char *answer(void *ctx, job_t *job) {
    txt_ctx_t *c = ctx;
    int n = 0;
    const job_image_t *im = job ? job_images(job, &n) : NULL;
    if (job) charge_made(c, n);
    return answer_images(c, im, n);
}

static char *interrupted(void *ctx, job_t *job) {
    (void)job;
    return answer(ctx, NULL); /* no image was finished */
}

static void track(void *ctx, job_t *job, int on) {
    txt_ctx_t *c = ctx;
    a1111_t *a = c->g->r->srv->a1111;
    pthread_mutex_lock(&a->mu);
    if (on && a->nrunning < MAX_RUNNING) {
        snprintf(a->running[a->nrunning].key, sizeof a->running[0].key, "%s", c->g->key.id);
        a->running[a->nrunning].job = job;
        a->running[a->nrunning].started = clock_mono();
        a->running[a->nrunning++].interrupted = 0;
    }
    for (int i = 0; !on && i < a->nrunning; i++)
        if (a->running[i].job == job) {
            a->running[i] = a->running[--a->nrunning];
            break;
        }
    pthread_mutex_unlock(&a->mu);
}

/* The price of an A1111 request, which names its own size and steps: the model's quality-high
 * price of its orientation once per started 1536 x 1024 pixels and per started 50 steps. */
static int64_t a1111_cost(int64_t unit, int width, int height, int steps) {
    int64_t px = ((int64_t)width * height + 1572863) / 1572864, st = (steps + 49) / 50, out;
    if (st < 1) st = 1;
    if (__builtin_mul_overflow(unit, px, &out) || __builtin_mul_overflow(out, st, &out)) return INT64_MAX;
    return out;
}

/* The refusals of both routes before their body is parsed: 1 with the answer in *res, else 0. */
static int refuse_early(req_t *r, enum MHD_Result *res) {
    if (atomic_load(&r->srv->stopping))
        *res = respond_simple_error(r, 502, "server_shutting_down", NULL,
                                    "The server is shutting down.");
    else if (!req_json_content_type(r))
        *res = respond_simple_error(r, 400, "invalid_content_type", NULL,
                                    "Content-Type must be application/json.");
    else
        return 0;
    return 1;
}

/* Admission of a parsed request: the model (override_settings, else the key's choice with POST
 * /sdapi/v1/options, else the default), then the shared path. -1 with *e filled on refusal. */
static int admit_model(admit_t *g, const txt_ctx_t *c, api_error_t *e) {
    char model[64];
    snprintf(model, sizeof model, "%s", c->x.model);
    if (!model[0]) {
        store_key_t key;
        if (req_authenticate(g->r, &key, e)) return -1;
        chosen_model(g->r->srv->a1111, key.id, model, sizeof model);
    }
    return admit_check_parsed(g, ROUTE_KIND_SEED, model[0] ? model : REGISTRY_ALIAS, e);
}

/* What runs (the request's settings over what the model's default quality runs), its price
 * (inputs: what the request's input images cost, 0 for txt2img) and the hooks of an A1111
 * answer. */
static void settle(admit_t *g, txt_ctx_t *c, int64_t inputs) {
    server_t *s = g->r->srv;
    const api_settings_t *q = &g->q.settings;
    c->eff = g->model->settings;
    if (q->steps) c->eff.steps = q->steps;
    if (q->guidance > 0) c->eff.guidance = q->guidance;
    if (q->sampler) c->eff.sampler = q->sampler;
    if (q->schedule) c->eff.schedule = q->schedule;
    g->q.settings = c->eff;
    g->quality = g->model->default_quality;
    /* the unit price counts the n images */
    g->cost = a1111_cost(price_cost(&s->cfg->prices, QUALITY_HIGH, g->size, g->q.n), g->q.width,
                         g->q.height, c->eff.steps);
    c->per_image = g->cost == INT64_MAX ? 0 : g->cost / g->q.n;
    if (__builtin_add_overflow(g->cost, inputs, &g->cost)) g->cost = INT64_MAX;
    if (!g->answer) g->answer = answer;
    g->interrupted_answer = interrupted;
    g->track = track;
    g->previews = 1; /* GET /sdapi/v1/progress shows the current image */
    g->answer_ctx = c;
}

enum MHD_Result h_a1111_txt2img(req_t *r) {
    admit_t g;
    api_error_t e;
    memset(&g, 0, sizeof g);
    g.r = r;
    txt_ctx_t c = {.g = &g};
    enum MHD_Result res;
    if (refuse_early(r, &res)) return res;
    if (a1111_parse_txt2img((const char *)r->body.data, r->body.len, &g.q, &c.x, &e)) return respond_error(r, &e, NULL, 0);
    if (admit_model(&g, &c, &e)) {
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    settle(&g, &c, 0);
    return generate_admitted(&g, r, NULL);
}

/* ---- img2img ---- */

typedef struct {
    txt_ctx_t t;
    img_t whole;        /* only masked: the init image at the output size, the crop's home */
    uint8_t *mask;      /* only masked: its mask at that size */
    int cx, cy, cw, ch; /* only masked: the crop, in whole's pixels */
} img_ctx_t;

/* Only masked: each image of the job (the crop, at the output size) put back into its place. */
static char *answer_full_res(void *ctx, job_t *job) {
    img_ctx_t *c = ctx;
    int n = 0;
    const job_image_t *im = job_images(job, &n);
    charge_made(&c->t, n);
    job_image_t made[API_MAX_N];
    int rc = IMG_OK, k = 0;
    for (; k < n && k < API_MAX_N && !rc; k++) {
        img_t gen = {0}, sized = {0}, out = {0};
        made[k].data = NULL;
        made[k].seed = im[k].seed;
        rc = img_decode(im[k].data, im[k].len, API_EDIT_MAX_PIXELS, &gen, NULL);
        if (!rc) rc = img_resize(&gen, c->cw, c->ch, &sized);
        if (!rc) rc = img_alloc(&out, c->whole.width, c->whole.height, 3);
        if (!rc) {
            for (size_t i = 0; i < (size_t)out.width * out.height; i++)
                memcpy(out.pixels + i * 3, c->whole.pixels + i * (size_t)c->whole.channels, 3);
            for (int y = 0; y < c->ch; y++)
                for (int x = 0; x < c->cw; x++) {
                    size_t o = (size_t)(c->cy + y) * out.width + (size_t)(c->cx + x);
                    if (c->mask[o])
                        memcpy(out.pixels + o * 3,
                               sized.pixels + ((size_t)y * c->cw + x) * (size_t)sized.channels, 3);
                }
            rc = img_encode(&out, IMG_FMT_PNG, 10, &made[k].data, &made[k].len);
        }
        img_free(&gen);
        img_free(&sized);
        img_free(&out);
    }
    char *body = rc ? NULL : answer_images(&c->t, made, k);
    for (int i = 0; i < k; i++)
        free(made[i].data);
    return body;
}

/* Only masked: the crop around the mask (with padding, widened to the output's aspect, inside
 * the image) into c; 0 when the mask is empty. */
static int crop_around(img_ctx_t *c, int pad, int ow, int oh) {
    int w = c->whole.width, h = c->whole.height, x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (c->mask[(size_t)y * w + x]) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
    if (x1 < 0) return 0;
    x0 -= pad, y0 -= pad, x1 += pad, y1 += pad;
    double cw = x1 - x0 + 1, ch = y1 - y0 + 1, want = (double)ow / oh;
    if (cw / ch < want)
        cw = ch * want;
    else
        ch = cw / want;
    if (cw > w) cw = w;
    if (ch > h) ch = h;
    double cx = (x0 + x1) / 2.0 - cw / 2, cy = (y0 + y1) / 2.0 - ch / 2;
    if (cx < 0) cx = 0;
    if (cy < 0) cy = 0;
    if (cx + cw > w) cx = w - cw;
    if (cy + ch > h) cy = h - ch;
    c->cx = (int)cx, c->cy = (int)cy, c->cw = (int)cw, c->ch = (int)ch;
    return c->cw > 0 && c->ch > 0;
}

enum MHD_Result h_a1111_img2img(req_t *r) {
    server_t *s = r->srv;
    admit_t g;
    api_error_t e;
    memset(&g, 0, sizeof g);
    g.r = r;
    img_ctx_t c = {.t = {.g = &g}};
    edit_t ed = {0};
    img_t mimg = {0};
    enum MHD_Result res;
    if (refuse_early(r, &res)) return res;
    if (a1111_parse_img2img((const char *)r->body.data, r->body.len, &g.q, &c.t.x, &e))
        return respond_error(r, &e, NULL, 0);
    int bad = admit_model(&g, &c.t, &e);
    int64_t inputs = 0; /* edit_prepare prices the inputs with the images: their share */
    if (!bad) {
        edit_from_request(&ed, &g.q); /* the images; the mask is A1111's, read below */
        ed.mask_data = NULL;
        bad = edit_prepare(&g, &ed, &e);
        if (!bad && __builtin_sub_overflow(
                        g.cost, price_cost(&s->cfg->prices, g.quality, g.size, g.q.n), &inputs))
            inputs = INT64_MAX;
    }
    int w = g.q.width, h = g.q.height;
    if (!bad && (ed.image.width != w || ed.image.height != h)) { /* resize_mode 0: just resize */
        img_t sized = {0};
        if (img_resize(&ed.image, w, h, &sized)) {
            api_error_set(&e, 500, "internal_error", NULL, "Out of memory.");
            bad = 1;
        } else {
            img_free(&ed.image);
            ed.image = sized;
        }
    }
    if (!bad && c.t.x.mask) {
        if (!g.model->can_inpaint) {
            api_error_set(&e, 400, "invalid_value", "mask", "Model '%s' cannot edit inside a mask.",
                          g.model->id);
            bad = 1;
        } else if (img_decode(c.t.x.mask, c.t.x.mask_len, API_EDIT_MAX_PIXELS, &mimg, NULL)) {
            api_error_set(&e, 400, "invalid_image", "mask",
                          "The mask is not a PNG, JPEG or WebP image, or is truncated.");
            bad = 1;
        } else if (img_mask_from_luma(&mimg, c.t.x.mask_invert, c.t.x.mask_blur, w, h,
                                      &ed.mask_px) ||
                   (c.t.x.fill == 0 && img_fill_masked(&ed.image, ed.mask_px))) {
            api_error_set(&e, 500, "internal_error", NULL, "Out of memory.");
            bad = 1;
        }
    }
    if (!bad && ed.mask_px && c.t.x.full_res) { /* only masked: the crop runs at the full size */
        c.whole = ed.image;
        c.mask = ed.mask_px;
        ed.image = (img_t){0};
        ed.mask_px = NULL;
        if (crop_around(&c, c.t.x.padding, w, h)) {
            bad = img_alloc(&ed.image, c.cw, c.ch, c.whole.channels) ||
                  !(ed.mask_px = malloc((size_t)c.cw * c.ch)); /* owned by ed (edit_free) */
            for (int y = 0; !bad && y < c.ch; y++) {
                memcpy(ed.image.pixels + (size_t)y * c.cw * c.whole.channels,
                       c.whole.pixels +
                           ((size_t)(c.cy + y) * c.whole.width + c.cx) * c.whole.channels,
                       (size_t)c.cw * c.whole.channels);
                memcpy(ed.mask_px + (size_t)y * c.cw,
                       c.mask + (size_t)(c.cy + y) * c.whole.width + c.cx, (size_t)c.cw);
            }
            if (bad) api_error_set(&e, 500, "internal_error", NULL, "Out of memory.");
            g.answer = answer_full_res;
        } else { /* an empty mask: the whole picture, nothing to repaint */
            ed.image = c.whole;
            ed.mask_px = c.mask;
            c.whole = (img_t){0};
            c.mask = NULL;
        }
    }
    if (bad) {
        res = respond_error(r, &e, NULL, 0);
        api_request_free(&g.q);
    } else {
        settle(&g, &c.t, inputs);
        g.answer_ctx = &c; /* its txt_ctx_t first: the hooks read either */
        res = generate_admitted(&g, r, &ed);
    }
    img_free(&mimg);
    img_free(&c.whole);
    free(c.mask);
    edit_free(&ed);
    a1111_extra_free(&c.t.x);
    return res;
}

/* ---- the lists ---- */

static enum MHD_Result answer_json(req_t *r, json_t *v) {
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return respond_json(r, 200, s, NULL, 0);
}

enum MHD_Result h_a1111_sd_models(req_t *r) {
    api_error_t e;
    store_key_t key;
    if (req_authenticate(r, &key, &e)) return respond_error(r, &e, NULL, 0);
    json_t *a = json_array();
    for (size_t i = 0; a && i < registry_count(r->srv->models); i++) {
        const model_profile_t *p = registry_profile(r->srv->models, i);
        if (!store_key_allows(&key, p->id)) continue;
        json_array_append_new(a, json_pack("{s:s, s:s, s:n, s:n, s:s, s:n}", "title", p->id, "model_name", p->id,
                                           "hash", "sha256", "filename", p->id, "config"));
    }
    return answer_json(r, a);
}

/* The model the key's requests use when they name none. */
static const char *current_model(req_t *r, const store_key_t *key, char *buf, size_t cap) {
    chosen_model(r->srv->a1111, key->id, buf, cap);
    return buf[0] ? buf : registry_default(r->srv->models)->id;
}

enum MHD_Result h_a1111_options_get(req_t *r) {
    api_error_t e;
    store_key_t key;
    if (req_authenticate(r, &key, &e)) return respond_error(r, &e, NULL, 0);
    char buf[64];
    return answer_json(r, json_pack("{s:s, s:n, s:s, s:i, s:s}", "sd_model_checkpoint",
                                    current_model(r, &key, buf, sizeof buf), "sd_checkpoint_hash", "samples_format",
                                    "png", "CLIP_stop_at_last_layers", 1, "sd_vae", "Automatic"));
}

enum MHD_Result h_a1111_options_post(req_t *r) {
    api_error_t e;
    store_key_t key;
    if (req_authenticate(r, &key, &e)) return respond_error(r, &e, NULL, 0);
    json_t *root;
    if (api_json_body((const char *)r->body.data, r->body.len, 0, &root, &e)) return respond_error(r, &e, NULL, 0);
    char buf[64];
    const char *k, *model = NULL;
    json_t *v;
    int bad = 0;
    json_object_foreach(root, k, v) {
        if (bad) break;
        if (!strcmp(k, "sd_model_checkpoint")) {
            const model_profile_t *p = json_is_string(v) ? registry_find(r->srv->models, json_string_value(v)) : NULL;
            if (!p) {
                api_error_set(&e, 404, "model_not_found", "sd_model_checkpoint", "Model '%.64s' is not installed.",
                              json_is_string(v) ? json_string_value(v) : "");
                bad = 1;
            } else if (!store_key_allows(&key, p->id)) {
                api_error_set(&e, 403, "model_not_allowed", "sd_model_checkpoint",
                              "This API key is not allowed to use model '%s'.", p->id);
                bad = 1;
            } else {
                model = p->id;
            }
        } else if (!((!strcmp(k, "samples_format") && json_is_string(v) && !strcmp(json_string_value(v), "png")) ||
                     (!strcmp(k, "CLIP_stop_at_last_layers") && json_is_integer(v) && json_integer_value(v) == 1) ||
                     (!strcmp(k, "sd_vae") && json_is_string(v) &&
                      (!strcmp(json_string_value(v), "Automatic") || !strcmp(json_string_value(v), "None"))))) {
            /* a value this server cannot take: saying so beats ignoring it */
            api_error_set(&e, 400, "unsupported_value", k, "Option '%.64s' cannot be set here; only 'sd_model_checkpoint'.", k);
            bad = 1;
        }
    }
    if (!bad && model && choose_model(r->srv->a1111, key.id, model)) {
        api_error_set(&e, 503, "server_busy", NULL, "Too many keys have chosen a model; try again later.");
        bad = 1;
    }
    json_decref(root);
    (void)buf;
    if (bad) return respond_error(r, &e, NULL, 0);
    return respond_json(r, 200, strdup("null"), NULL, 0);
}

enum MHD_Result h_a1111_samplers(req_t *r) {
    static const char *const ALIASES[A1111_NSAMPLERS][3] = {
        {NULL}, {"k_euler", NULL}, {"k_euler_a", "k_euler_ancestral", NULL}, {"k_dpmpp_2m", NULL}, {"k_lcm", NULL}};
    api_error_t e;
    store_key_t key;
    if (req_authenticate(r, &key, &e)) return respond_error(r, &e, NULL, 0);
    json_t *a = json_array();
    for (int i = 1; a && i < A1111_NSAMPLERS; i++) {
        json_t *al = json_array();
        for (int k = 0; al && ALIASES[i][k]; k++)
            json_array_append_new(al, json_string(ALIASES[i][k]));
        json_array_append_new(a, json_pack("{s:s, s:o, s:{}}", "name", A1111_SAMPLERS[i], "aliases",
                                           al ? al : json_array(), "options"));
    }
    return answer_json(r, a);
}

enum MHD_Result h_a1111_schedulers(req_t *r) {
    api_error_t e;
    store_key_t key;
    if (req_authenticate(r, &key, &e)) return respond_error(r, &e, NULL, 0);
    json_t *a = json_array();
    for (int i = 0; a && i < A1111_NSCHEDULERS; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:n, s:f, s:b}", "name", A1111_SCHEDULERS[i], "label",
                                           A1111_SCHEDULER_LABELS[i], "aliases", "default_rho", -1.0,
                                           "need_inner_model", 0));
    return answer_json(r, a);
}

enum MHD_Result h_a1111_loras(req_t *r) {
    api_error_t e;
    store_key_t key;
    if (req_authenticate(r, &key, &e)) return respond_error(r, &e, NULL, 0);
    json_t *list = info_lora_list(r->srv->cfg), *a = json_array(), *it;
    size_t i;
    json_array_foreach(list, i, it) {
        const char *name = json_string_value(json_object_get(it, "name"));
        char file[300];
        snprintf(file, sizeof file, "%s.safetensors", name ? name : "");
        if (a && name) json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:{}}", "name", name, "alias", name, "path", file, "metadata"));
    }
    json_decref(list);
    return answer_json(r, a);
}

/* ---- progress and interrupt ---- */

enum MHD_Result h_a1111_progress(req_t *r) {
    api_error_t e;
    store_key_t key;
    if (req_authenticate(r, &key, &e)) return respond_error(r, &e, NULL, 0);
    const char *skip = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "skip_current_image");
    int want_image = !(skip && (!strcmp(skip, "true") || !strcmp(skip, "True") || !strcmp(skip, "1")));
    a1111_t *a = r->srv->a1111;
    int count = 0, image = 0, step = 0, steps = 0, n = 1, interrupted = 0;
    double started = 0;
    img_t preview = {0};
    int have_preview = 0;
    pthread_mutex_lock(&a->mu); /* the handler that tracks a job holds it until it is untracked */
    for (int i = 0; i < a->nrunning; i++)
        if (!strcmp(a->running[i].key, key.id)) {
            if (!count++) {
                job_t *j = a->running[i].job;
                job_progress(j, &image, &step, &steps);
                n = job_spec(j)->n;
                started = a->running[i].started;
                interrupted = a->running[i].interrupted;
                int pstep;
                have_preview = want_image && job_preview(j, &preview, &pstep) == IMG_OK;
            }
        }
    pthread_mutex_unlock(&a->mu);
    double progress = count && steps > 0 ? ((double)image + (double)step / steps) / (n > 0 ? n : 1) : 0;
    if (progress > 1) progress = 1;
    double elapsed = count ? clock_mono() - started : 0;
    double eta = progress > 0 ? elapsed / progress - elapsed : 0;
    char *current = NULL; /* the preview as base64 (malloc'd, freed once in the JSON) */
    if (have_preview) {
        uint8_t *png = NULL;
        size_t len = 0;
        if (img_encode(&preview, IMG_FMT_PNG, 10, &png, &len) == IMG_OK && (current = malloc(b64_encoded_len(len) + 1)))
            b64_encode(png, len, current);
        free(png);
        img_free(&preview);
    }
    json_t *root = json_pack("{s:f, s:f, s:{s:b, s:b, s:s, s:i, s:s, s:i, s:i, s:i}, s:s?, s:n}", "progress", progress,
                             "eta_relative", eta, "state", "skipped", 0, "interrupted", interrupted, "job",
                             count ? "txt2img" : "", "job_count", count, "job_timestamp", "0", "job_no", count ? image : 0,
                             "sampling_step", step, "sampling_steps", steps, "current_image", current, "textinfo");
    free(current);
    return answer_json(r, root);
}

/* /skip (interrupt 0) and /interrupt (1): to every running A1111 job of the caller's key. */
static enum MHD_Result stop_jobs(req_t *r, int interrupt) {
    api_error_t e;
    store_key_t key;
    if (req_authenticate(r, &key, &e)) return respond_error(r, &e, NULL, 0);
    a1111_t *a = r->srv->a1111;
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->nrunning; i++)
        if (!strcmp(a->running[i].key, key.id)) {
            if (!interrupt) {
                job_skip(a->running[i].job);
                continue;
            }
            a->running[i].interrupted = 1;
            job_cancel(a->running[i].job, IMG_ECANCELLED);
        }
    pthread_mutex_unlock(&a->mu);
    return respond_json(r, 200, strdup("{}"), NULL, 0);
}

enum MHD_Result h_a1111_skip(req_t *r) {
    return stop_jobs(r, 0);
}

enum MHD_Result h_a1111_interrupt(req_t *r) {
    return stop_jobs(r, 1);
}
