/* generate.c - the synchronous generation routes (seed style and OpenAI style).
 *
 * The arrows of DESIGN.md, each releasing what the earlier ones took when it fails:
 * validate -> auth -> model access -> moderation -> idempotency -> rate limit -> reserve ->
 * queue -> wait -> charge (or release) -> JSON. Admission is shared with the async routes
 * (admit.c). */
#include "api/pricing.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/status.h"
#include "server/admit.h"
#include "server/form.h"
#include "server/stream.h"
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Replays a recorded idempotent answer, waiting for the first attempt to finish. Returns 1 when
 * it answered (*res set), 0 when the first attempt gave up and this request now runs it. */
static int replay(admit_t *g, store_idem_t *rec, const char *hash, enum MHD_Result *res) {
    server_t *s = g->r->srv;
    double until = clock_mono() + s->cfg->deadline_seconds;
    while (rec->status == 0 && clock_mono() < until && !atomic_load(&s->cancel_all) &&
           !req_client_gone(g->r)) {
        usleep(100000);
        free(rec->body);
        int rc = store_idem_begin(s->store, g->key.id, g->idem_key, hash, clock_wall(),
                                  (int64_t)s->cfg->idempotency_hours * 3600, rec);
        if (rc == IMG_OK) { /* the first attempt gave up: run this one */
            free(rec->body);
            rec->body = NULL;
            g->idem_owned = 1;
            return 0;
        }
    }
    if (rec->status == 0) {
        free(rec->body);
        api_error_t e;
        api_error_set(&e, 429, "idempotent_request_in_progress", NULL,
                      "A request with this Idempotency-Key is still running; retry later.");
        admit_hdr(g, "Retry-After", "1");
        *res = respond_json(g->r, 429, api_error_json(&e, g->r->style), g->hdrs, g->nhdrs);
        return 1;
    }
    admit_hdr(g, "Idempotent-Replayed", "true");
    admit_hdr(g, "x-credits-charged", "0.000000");
    char rem[32];
    price_format_usd(g->key.balance, rem, sizeof rem);
    admit_hdr(g, "x-remaining-credits", rem);
    char *body = rec->body;
    rec->body = NULL;
    *res = respond(g->r, rec->status, "application/json", body, body ? strlen(body) : 0, g->hdrs,
                   g->nhdrs);
    return 1;
}

/* Idempotency: a retry with the same key and body gets the first answer. Returns 1 when it has
 * answered (*res set), 0 to go on. */
static int idempotency(admit_t *g, enum MHD_Result *res) {
    server_t *s = g->r->srv;
    api_error_t e;
    const char *ik = req_header(g->r, "Idempotency-Key");
    if (!ik) return 0;
    if (!hdr_idempotency_key_ok(ik, sizeof g->idem_key)) {
        api_error_set(&e, 400, "invalid_value", "Idempotency-Key",
                      "Header 'Idempotency-Key' must be 1 to 255 characters.");
        *res = respond_error(g->r, &e, NULL, 0);
        return 1;
    }
    snprintf(g->idem_key, sizeof g->idem_key, "%s", ik);
    char hash[65];
    buf_t hb = {0};
    buf_printf(&hb, "%s\n", g->r->url);
    buf_append(&hb, g->r->body.data, g->r->body.len);
    if (g->r->form) /* an edit: its files are part of what is repeated */
        for (int i = 0; i < g->r->form->n; i++)
            if (g->r->form->parts[i].is_file) {
                buf_printf(&hb, "\n%s\n", g->r->form->parts[i].name);
                buf_append(&hb, g->r->form->parts[i].data.data, g->r->form->parts[i].data.len);
            }
    crypto_sha256_hex(hb.data, hb.len, hash);
    buf_free(&hb);
    store_idem_t rec;
    int rc = store_idem_begin(s->store, g->key.id, g->idem_key, hash, clock_wall(),
                              (int64_t)s->cfg->idempotency_hours * 3600, &rec);
    if (rc == IMG_EINVAL) {
        free(rec.body);
        api_error_set(&e, 400, "idempotency_key_reused", "Idempotency-Key",
                      "This Idempotency-Key was used with a different request body.");
        *res = respond_error(g->r, &e, NULL, 0);
        return 1;
    }
    if (rc == IMG_EEXIST) return replay(g, &rec, hash, res);
    if (rc != IMG_OK) {
        api_error_set(&e, 500, "internal_error", NULL, "The store is unavailable.");
        *res = respond_error(g->r, &e, NULL, 0);
        return 1;
    }
    g->idem_owned = 1;
    return 0;
}

/* An edit's inputs as they came (form parts), and what they become. */
typedef struct {
    const form_part_t *images[17]; /* one more than allowed, to say so */
    int nimages;
    const form_part_t *mask;
    img_t image;      /* the first image, decoded */
    uint8_t *mask_px; /* 1 = repaint, the image's size; NULL without a mask */
} edit_t;

static void edit_free(edit_t *ed) {
    img_free(&ed->image);
    free(ed->mask_px);
}

/* The checks of SPEC §11 on an admitted edit (model capabilities, images, mask), before anything
 * is reserved; decodes the inputs, resolves size auto and adds the input images' price. */
static int edit_prepare(admit_t *g, edit_t *ed, api_error_t *e) {
    const model_profile_t *m = g->model;
    if (strcmp(g->r->srv->cfg->role, "all") != 0) { /* the PostgreSQL job queue carries no images */
        api_error_set(e, 400, "unsupported_value", "image",
                      "Edits run on servers of role 'all'; this one is a gateway.");
        return -1;
    }
    if (!m->can_edit) {
        api_error_set(e, 400, "unsupported_model", "model",
                      "Model '%s' cannot edit images (it has no image encoder).", m->id);
        return -1;
    }
    if (ed->nimages == 0) {
        api_error_set(e, 400, "missing_required_parameter", "image",
                      "Missing required parameter: 'image' (a PNG, JPEG or WebP file).");
        return -1;
    }
    if (ed->nimages > 16) {
        api_error_set(e, 400, "invalid_value", "image",
                      "At most 16 images can be edited together.");
        return -1;
    }
    if (ed->nimages > m->max_input_images) {
        api_error_set(e, 400, "invalid_value", "image",
                      "Model '%s' takes at most %d input image%s; got %d.", m->id,
                      m->max_input_images, m->max_input_images == 1 ? "" : "s", ed->nimages);
        return -1;
    }
    if (ed->mask && !m->can_inpaint) {
        api_error_set(e, 400, "invalid_value", "mask", "Model '%s' cannot edit inside a mask.",
                      m->id);
        return -1;
    }
    for (int i = 0; i < ed->nimages; i++) {
        img_t im;
        const buf_t *d = &ed->images[i]->data;
        int rc = img_decode(d->data, d->len, API_EDIT_MAX_PIXELS, &im, NULL);
        if (rc == IMG_ERANGE) {
            api_error_set(e, 400, "image_too_large", "image",
                          "Image %d is larger than 64 megapixels.", i + 1);
            return -1;
        }
        if (rc) {
            api_error_set(e, rc == IMG_ENOMEM ? 500 : 400,
                          rc == IMG_ENOMEM ? "internal_error" : "invalid_image", "image",
                          "Image %d is not a PNG, JPEG or WebP image, or is truncated.", i + 1);
            return -1;
        }
        if (i == 0)
            ed->image = im;
        else
            img_free(&im);
    }
    if (ed->mask) {
        img_t mk;
        int alpha = 0, rc = img_decode(ed->mask->data.data, ed->mask->data.len, API_EDIT_MAX_PIXELS,
                                       &mk, &alpha);
        if (rc) {
            api_error_set(e, 400, "invalid_image", "mask",
                          "The mask is not a PNG image, or is truncated.");
            return -1;
        }
        if (!alpha || img_sniff(ed->mask->data.data, ed->mask->data.len) != IMG_KIND_PNG) {
            img_free(&mk);
            api_error_set(
                e, 400, "invalid_value", "mask",
                "The mask must be a PNG with an alpha channel (alpha 0 marks what to repaint).");
            return -1;
        }
        if (mk.width != ed->image.width || mk.height != ed->image.height) {
            api_error_set(e, 400, "invalid_value", "mask",
                          "The mask is %dx%d; it must be the first image's size, %dx%d.", mk.width,
                          mk.height, ed->image.width, ed->image.height);
            img_free(&mk);
            return -1;
        }
        if (img_mask_from_alpha(&mk, &ed->mask_px)) {
            img_free(&mk);
            api_error_set(e, 500, "internal_error", NULL, "Out of memory.");
            return -1;
        }
        img_free(&mk);
    }
    if (g->q.size == SIZE_AUTO) g->size = api_size_for_aspect(ed->image.width, ed->image.height);
    g->cost = price_cost(&g->r->srv->cfg->prices, g->quality, g->size, g->q.n);
    int64_t inputs;
    if (__builtin_mul_overflow(g->r->srv->cfg->prices.input_image, (int64_t)ed->nimages, &inputs) ||
        __builtin_add_overflow(g->cost, inputs, &g->cost))
        g->cost = INT64_MAX; /* refused as insufficient credits */
    return 0;
}

static enum MHD_Result generate(req_t *r, api_route_kind_t kind, const char *model_name,
                                edit_t *ed) {
    server_t *s = r->srv;
    admit_t g;
    api_error_t e;
    enum MHD_Result res;

    if (admit_check(&g, r, kind, model_name, &e) || (ed && edit_prepare(&g, ed, &e))) {
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    if (g.q.stream && req_header(r, "Idempotency-Key")) {
        /* a stream cannot be replayed to a retry: refuse rather than charge twice */
        api_error_set(&e, 400, "unsupported_value", "Idempotency-Key",
                      "Idempotency-Key cannot be used with \"stream\": true.");
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    if (idempotency(&g, &res)) {
        api_request_free(&g.q);
        return res;
    }
    if (admit_take(&g, &e)) {
        res = admit_fail(&g, &e);
        api_request_free(&g.q);
        return res;
    }

    /* Queue the job. */
    job_spec_t spec;
    admit_job_spec(&g, &spec);
    spec.previews = g.q.stream && g.q.partial_images > 0;
    if (ed) {
        spec.init_image = &ed->image;
        spec.mask = ed->mask_px;
        /* SPEC §11: strength, else input_fidelity high 0.45, low 0.75 */
        spec.strength = g.q.has_strength          ? (float)g.q.strength
                        : g.q.input_fidelity_high ? 0.45f
                                                  : 0.75f;
        spec.image_tokens = ed->nimages * price_output_tokens(QUALITY_LOW, SIZE_1024x1024);
    }
    job_t *job;
    if (admit_enqueue(&g, &spec, &job, &e)) {
        res = admit_fail(&g, &e);
        api_request_free(&g.q);
        return res;
    }
    if (g.q.stream) return stream_start(&g, job, &spec); /* it owns g.q and the job now */

    /* Wait: done, deadline, client gone, or shutdown. */
    /* Counted until the answer has been sent (on_completed), so that shutdown waits for it. */
    atomic_fetch_add(&s->active, 1);
    r->counted_active = 1;
    job_state_t st;
    int gone = 0, shutdown = 0, timed_out = 0;
    for (;;) {
        st = job_wait(job, 0.05);
        if (st >= JOB_DONE) break;
        if (req_client_gone(r)) {
            gone = 1;
            job_cancel(job, IMG_ECANCELLED);
        } else if (clock_mono() > spec.deadline) {
            timed_out = 1;
            job_cancel(job, IMG_ETIMEDOUT);
        } else if (atomic_load(&s->cancel_all)) {
            shutdown = 1;
            job_cancel(job, IMG_ECANCELLED);
        } else {
            continue;
        }
        st = job_state(job); /* it may have finished just now */
        if (st == JOB_QUEUED || st == JOB_RUNNING) break;
    }

    if (st == JOB_DONE && !gone) {
        char *body = admit_response_json(job, g.size, g.quality, g.background, g.q.output_format);
        if (!body) {
            api_error_set(&e, 500, "internal_error", NULL, "Out of memory.");
            res = admit_fail(&g, &e);
        } else if (admit_charge(&g, body, &e)) {
            free(body);
            res = admit_fail(&g, &e);
        } else {
            res = respond(r, 200, "application/json", body, strlen(body), g.hdrs, g.nhdrs);
        }
        metrics_job(s->metrics, "done", job_run_seconds(job));
    } else {
        admit_job_error(&g, job, st, gone, shutdown, timed_out, &e);
        res = admit_fail(&g, &e);
        if (gone) res = MHD_NO; /* nobody to answer: close */
    }
    job_release(job);
    api_request_free(&g.q);
    return res;
}

enum MHD_Result h_generate_seed(req_t *r) {
    return generate(r, ROUTE_KIND_SEED, r->param, NULL);
}

enum MHD_Result h_generate_openai(req_t *r) {
    return generate(r, ROUTE_KIND_OPENAI, REGISTRY_ALIAS, NULL);
}

/* A form field's text as the JSON value the request parser expects: numbers and booleans
 * arrive as text in multipart and are validated as numbers (a text that is not one stays a
 * string, and the parser names the field and the type it wanted). */
static json_t *form_value(const char *name, const char *text) {
    static const char *const INTS[] = {"n", "output_compression", "seed", "partial_images"};
    char *end;
    for (size_t i = 0; i < sizeof INTS / sizeof INTS[0]; i++)
        if (!strcmp(name, INTS[i])) {
            long long v = strtoll(text, &end, 10);
            if (end != text && !*end && text[0] != ' ') return json_integer(v);
        }
    if (!strcmp(name, "strength")) {
        double v = strtod(text, &end);
        if (end != text && !*end) return json_real(v);
    }
    if (!strcmp(name, "stream")) {
        if (!strcmp(text, "true")) return json_true();
        if (!strcmp(text, "false")) return json_false();
    }
    return json_string(text);
}

enum MHD_Result h_images_edits(req_t *r) {
    form_t *f = r->form;
    api_error_t e;
    if (!f) {
        api_error_set(&e, 400, "invalid_content_type", NULL,
                      "Content-Type must be multipart/form-data with a boundary.");
        return respond_error(r, &e, NULL, 0);
    }
    if (f->status) {
        api_error_set(&e, f->status,
                      f->status == 413   ? "body_too_large"
                      : f->status == 500 ? "internal_error"
                                         : "invalid_request",
                      f->field[0] ? f->field : NULL, "%s", f->reason);
        return respond_error(r, &e, NULL, 0);
    }
    edit_t ed = {0};
    json_t *o = json_object();
    int bad = !o;
    if (bad) api_error_set(&e, 500, "internal_error", NULL, "Out of memory.");
    for (int i = 0; i < f->n && !bad; i++) {
        const form_part_t *p = &f->parts[i];
        int is_image = !strcmp(p->name, "image") || !strcmp(p->name, "image[]");
        if (is_image || !strcmp(p->name, "mask")) {
            if (!p->is_file) {
                api_error_set(&e, 400, "invalid_type", p->name, "'%s' must be a file.", p->name);
                bad = 1;
            } else if (is_image) {
                if (ed.nimages < 17) ed.images[ed.nimages] = p;
                ed.nimages++;
            } else if (ed.mask) {
                api_error_set(&e, 400, "invalid_value", "mask", "'mask' may be given once.");
                bad = 1;
            } else {
                ed.mask = p;
            }
            continue;
        }
        size_t n = p->data.len;
        char *text = malloc(n + 1);
        if (!text) {
            api_error_set(&e, 500, "internal_error", NULL, "Out of memory.");
            bad = 1;
            break;
        }
        memcpy(text, p->data.data ? (const char *)p->data.data : "", n);
        text[n] = 0;
        if (p->is_file) {
            api_error_set(&e, 400, "invalid_type", p->name, "'%.64s' must be a text field.",
                          p->name);
            bad = 1;
        } else if (memchr(text, 0, n)) {
            api_error_set(&e, 400, "invalid_value", p->name,
                          "'%.64s' must not contain NUL characters.", p->name);
            bad = 1;
        } else if (json_object_get(o, p->name)) {
            api_error_set(&e, 400, "invalid_value", p->name, "'%.64s' may be given once.", p->name);
            bad = 1;
        } else {
            json_t *v = form_value(p->name, text);
            if (!v || json_object_set_new(o, p->name, v)) {
                api_error_set(&e, 400, "invalid_value", p->name, "'%.64s' must be UTF-8 text.",
                              p->name);
                bad = 1;
            }
        }
        free(text);
    }
    char *json = bad ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!bad && !json) {
        api_error_set(&e, 500, "internal_error", NULL, "Out of memory.");
        bad = 1;
    }
    if (bad) return respond_error(r, &e, NULL, 0);
    buf_free(&r->body);
    int rc = buf_append(&r->body, json, strlen(json));
    free(json);
    if (rc) return respond_simple_error(r, 500, "internal_error", NULL, "Out of memory.");
    enum MHD_Result res = generate(r, ROUTE_KIND_EDIT, REGISTRY_ALIAS, &ed);
    edit_free(&ed);
    return res;
}
