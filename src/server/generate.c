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
#include "server/edit_input.h"
#include "server/generate.h"
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

/* Runs an admitted request (g: checked, edit inputs decoded; ed: NULL for a generation) and
 * answers it; frees g->q, or hands it to the stream. */
enum MHD_Result generate_admitted(admit_t *g, req_t *r, edit_t *ed) {
    server_t *s = r->srv;
    api_error_t e;
    enum MHD_Result res;
    if (g->q.stream && req_header(r, "Idempotency-Key")) {
        /* a stream cannot be replayed to a retry: refuse rather than charge twice */
        api_error_set(&e, 400, "unsupported_value", "Idempotency-Key",
                      "Idempotency-Key cannot be used with \"stream\": true.");
        api_request_free(&g->q);
        return respond_error(r, &e, NULL, 0);
    }
    if (idempotency(g, &res)) {
        api_request_free(&g->q);
        return res;
    }
    if (admit_take(g, &e)) {
        res = admit_fail(g, &e);
        api_request_free(&g->q);
        return res;
    }

    /* Queue the job. */
    job_spec_t spec;
    admit_job_spec(g, &spec);
    spec.previews = (g->q.stream && g->q.partial_images > 0) || g->previews;
    if (ed) edit_job_spec(ed, &g->q, &spec);
    job_t *job;
    if (admit_enqueue(g, &spec, &job, &e)) {
        res = admit_fail(g, &e);
        api_request_free(&g->q);
        return res;
    }
    if (g->q.stream) return stream_start(g, job, &spec); /* it owns g->q and the job now */
    if (g->track) g->track(g->answer_ctx, job, 1);

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
        char *body = g->answer ? g->answer(g->answer_ctx, job)
                               : admit_response_json(job, g->size, g->quality, g->background, g->q.output_format);
        if (!body) {
            api_error_set(&e, 500, "internal_error", NULL, "Out of memory.");
            res = admit_fail(g, &e);
        } else if (admit_charge(g, body, &e)) {
            free(body);
            res = admit_fail(g, &e);
        } else {
            res = respond(r, 200, "application/json", body, strlen(body), g->hdrs, g->nhdrs);
        }
        metrics_job(s->metrics, "done", job_run_seconds(job));
    } else if (st == JOB_CANCELLED && !gone && !shutdown && !timed_out && g->interrupted_answer) {
        api_error_set(&e, 499, "interrupted", NULL, "The job was interrupted.");
        admit_release(g, &e, NULL); /* nothing made, nothing charged */
        char *body = g->interrupted_answer(g->answer_ctx, job);
        res = body ? respond(r, 200, "application/json", body, strlen(body), g->hdrs, g->nhdrs)
                   : respond_simple_error(r, 500, "internal_error", NULL, "Out of memory.");
        metrics_job(s->metrics, "cancelled", job_run_seconds(job));
    } else {
        admit_job_error(g, job, st, gone, shutdown, timed_out, &e);
        res = admit_fail(g, &e);
        if (gone) res = MHD_NO; /* nobody to answer: close */
    }
    if (g->track) g->track(g->answer_ctx, job, 0);
    job_release(job);
    api_request_free(&g->q);
    return res;
}

/* ed: a multipart edit's inputs, or NULL (a JSON body with "image"/"images" is an edit too). */
static enum MHD_Result generate(req_t *r, api_route_kind_t kind, const char *model_name,
                                edit_t *ed) {
    admit_t g;
    api_error_t e;
    enum MHD_Result res;
    edit_t json_ed = {0};

    int bad = admit_check(&g, r, kind, model_name, &e);
    if (!bad && !ed && g.q.nimages) {
        edit_from_request(&json_ed, &g.q);
        ed = &json_ed;
    }
    if (bad || (ed && edit_prepare(&g, ed, &e))) {
        edit_free(&json_ed);
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    res = generate_admitted(&g, r, ed);
    edit_free(&json_ed);
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
    if (!strcmp(name, "loras")) { /* a JSON array in a form field */
        json_t *a = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_array(a)) return a;
        json_decref(a);
    }
    if (!strcmp(name, "stream")) {
        if (!strcmp(text, "true")) return json_true();
        if (!strcmp(text, "false")) return json_false();
    }
    return json_string(text);
}

/* /v1/images/edits and /v1/images/variations: the form's files become the edit's inputs and its
 * text fields the JSON body the request parser reads. */
static enum MHD_Result form_request(req_t *r, api_route_kind_t kind) {
    form_t *f = r->form;
    int variation = kind == ROUTE_KIND_VARIATION;
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
        int is_image = !strcmp(p->name, "image") || (!variation && !strcmp(p->name, "image[]"));
        if (is_image || (!variation && !strcmp(p->name, "mask"))) {
            if (!p->is_file) {
                api_error_set(&e, 400, "invalid_type", p->name, "'%s' must be a file.", p->name);
                bad = 1;
            } else if (variation && is_image && ed.nimages) {
                api_error_set(&e, 400, "invalid_value", "image", "'image' may be given once.");
                bad = 1;
            } else if (is_image) {
                if (ed.nimages <= API_MAX_INPUT_IMAGES) {
                    ed.data[ed.nimages] = p->data.data;
                    ed.len[ed.nimages] = p->data.len;
                    ed.nimages++;
                }
            } else if (ed.mask_data) {
                api_error_set(&e, 400, "invalid_value", "mask", "'mask' may be given once.");
                bad = 1;
            } else {
                ed.mask_data = p->data.data ? p->data.data : (const uint8_t *)"";
                ed.mask_len = p->data.len;
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
    enum MHD_Result res = generate(r, kind, REGISTRY_ALIAS, &ed);
    edit_free(&ed);
    return res;
}

enum MHD_Result h_images_edits(req_t *r) {
    return form_request(r, ROUTE_KIND_EDIT);
}

enum MHD_Result h_images_variations(req_t *r) {
    return form_request(r, ROUTE_KIND_VARIATION);
}
