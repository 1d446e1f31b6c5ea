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
#include "server/stream.h"
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

static enum MHD_Result generate(req_t *r, api_route_kind_t kind, const char *model_name) {
    server_t *s = r->srv;
    admit_t g;
    api_error_t e;
    enum MHD_Result res;

    if (admit_check(&g, r, kind, model_name, &e)) {
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
    return generate(r, ROUTE_KIND_SEED, r->param);
}

enum MHD_Result h_generate_openai(req_t *r) {
    return generate(r, ROUTE_KIND_OPENAI, REGISTRY_ALIAS);
}
