/* generate.c - the synchronous generation routes (seed style and OpenAI style).
 *
 * The arrows of DESIGN.md, each releasing what the earlier ones took when it fails:
 * validate -> auth -> model access -> idempotency -> rate limit -> reserve -> queue -> wait
 * -> charge (or release) -> JSON. */
#include "api/pricing.h"
#include "api/request.h"
#include "common/base64.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/status.h"
#include "server/internal.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    req_t *r;
    api_request_t q;
    const model_profile_t *model;
    store_key_t key;
    char idem_key[256];
    int idem_owned;
    int limit_held;
    int reserved;
    int64_t cost;
    hdr_t hdrs[8];
    char hbuf[8][48];
    int nhdrs;
} gen_t;

static void add_hdr(gen_t *g, const char *name, const char *fmt, double v) {
    if (g->nhdrs >= 8) return;
    snprintf(g->hbuf[g->nhdrs], sizeof g->hbuf[0], fmt, v);
    g->hdrs[g->nhdrs].name = name;
    g->hdrs[g->nhdrs].value = g->hbuf[g->nhdrs];
    g->nhdrs++;
}

static void add_hdr_str(gen_t *g, const char *name, const char *value) {
    if (g->nhdrs >= 8) return;
    snprintf(g->hbuf[g->nhdrs], sizeof g->hbuf[0], "%s", value);
    g->hdrs[g->nhdrs].name = name;
    g->hdrs[g->nhdrs].value = g->hbuf[g->nhdrs];
    g->nhdrs++;
}

/* Undo what was taken, then answer with the error. Records the answer for an idempotent
 * request when it is final for that body (4xx other than 429); otherwise lets a retry run. */
static enum MHD_Result fail(gen_t *g, const api_error_t *e) {
    server_t *s = g->r->srv;
    if (g->reserved) store_release(s->store, g->r->request_id);
    if (g->limit_held) ratelimit_release(s->limits, g->key.id);
    char *body = api_error_json(e, g->r->style);
    if (g->idem_owned) {
        if (e->status >= 400 && e->status < 500 && e->status != 429 && e->status != 499 && body)
            store_idem_finish(s->store, g->key.id, g->idem_key, e->status, body);
        else
            store_idem_abandon(s->store, g->key.id, g->idem_key);
    }
    return respond_json(g->r, e->status, body, g->hdrs, g->nhdrs);
}

static void usd(int64_t micro, char *out) { price_format_usd(micro, out, 32); }

static char *success_json(gen_t *g, job_t *job, api_size_t size, api_quality_t quality,
                          api_background_t bg) {
    int n;
    const job_image_t *imgs = job_images(job, &n);
    json_t *data = json_array();
    for (int i = 0; i < n; i++) {
        char *b64 = malloc(b64_encoded_len(imgs[i].len) + 1);
        if (!b64) {
            json_decref(data);
            return NULL;
        }
        b64_encode(imgs[i].data, imgs[i].len, b64);
        json_array_append_new(data, json_pack("{s:s%, s:I}", "b64_json", b64,
                                              b64_encoded_len(imgs[i].len), "seed",
                                              (json_int_t)imgs[i].seed));
        free(b64);
    }
    int in_tok = job_input_tokens(job);
    int out_tok = price_output_tokens(quality, size) * n;
    json_t *root = json_pack(
        "{s:I, s:o, s:s, s:s, s:s, s:s, s:{s:i, s:i, s:i, s:{s:i, s:i}}}", "created",
        (json_int_t)clock_wall(), "data", data, "background", api_background_name(bg),
        "output_format", api_format_name(g->q.output_format), "quality", api_quality_name(quality),
        "size", api_size_name(size), "usage", "input_tokens", in_tok, "output_tokens", out_tok,
        "total_tokens", in_tok + out_tok, "input_tokens_details", "text_tokens", in_tok,
        "image_tokens", 0);
    if (!root) return NULL;
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

/* Replays a recorded idempotent answer, waiting for the first attempt to finish. Returns 1 when
 * it answered (*res set), 0 when the first attempt gave up and this request now runs it. */
static int replay(gen_t *g, store_idem_t *rec, const char *hash, enum MHD_Result *res) {
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
        add_hdr_str(g, "Retry-After", "1");
        *res = respond_json(g->r, 429, api_error_json(&e, g->r->style), g->hdrs, g->nhdrs);
        return 1;
    }
    add_hdr_str(g, "Idempotent-Replayed", "true");
    add_hdr_str(g, "x-credits-charged", "0.000000");
    char rem[32];
    usd(g->key.balance, rem);
    add_hdr_str(g, "x-remaining-credits", rem);
    char *body = rec->body;
    rec->body = NULL;
    *res = respond(g->r, rec->status, "application/json", body, body ? strlen(body) : 0, g->hdrs,
                   g->nhdrs);
    return 1;
}

static int parse_timeout(gen_t *g, double *seconds, api_error_t *e) {
    const config_t *cfg = g->r->srv->cfg;
    *seconds = cfg->deadline_seconds;
    const char *h = req_header(g->r, "x-timeout-seconds");
    if (!h) return 0;
    char *end;
    long v = strtol(h, &end, 10);
    if (end == h || *end || v < 1) {
        api_error_set(e, 400, "invalid_value", "x-timeout-seconds",
                      "Header 'x-timeout-seconds' must be a positive integer.");
        return -1;
    }
    *seconds = v > cfg->max_deadline_seconds ? cfg->max_deadline_seconds : (double)v;
    return 0;
}

static enum MHD_Result generate(req_t *r, api_route_kind_t kind, const char *model_name) {
    server_t *s = r->srv;
    gen_t g = {.r = r};
    api_error_t e;
    enum MHD_Result res;

    if (atomic_load(&s->stopping)) {
        api_error_set(&e, 502, "server_shutting_down", NULL, "The server is shutting down.");
        return respond_error(r, &e, NULL, 0);
    }
    if (!req_json_content_type(r)) {
        api_error_set(&e, 400, "invalid_content_type", NULL, "Content-Type must be application/json.");
        return respond_error(r, &e, NULL, 0);
    }
    if (api_request_parse(kind, (const char *)r->body.data, r->body.len, &g.q, &e))
        return respond_error(r, &e, NULL, 0);
    double timeout;
    if (parse_timeout(&g, &timeout, &e)) {
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    if (kind == ROUTE_KIND_OPENAI && g.q.model) model_name = g.q.model;
    g.model = registry_find(s->models, model_name);
    if (!g.model) {
        api_error_set(&e, 404, "model_not_found", "model", "Model '%.64s' is not installed.",
                      model_name);
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    if (req_authenticate(r, &g.key, &e)) {
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    if (!store_key_allows(&g.key, g.model->id)) {
        api_error_set(&e, 403, "model_not_allowed", "model",
                      "This API key is not allowed to use model '%s'.", g.model->id);
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    /* Moderation: refused prompts cost nothing and are counted. */
    mod_result_t mr;
    if (mod_check(s->moderation, g.q.prompt, g.q.moderation == MODERATION_LOW ? MOD_LEVEL_LOW : MOD_LEVEL_AUTO, &mr)) {
        api_error_set(&e, 500, "internal_error", NULL, "Out of memory.");
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    if (mr.refused) {
        metrics_moderation_refusal(s->metrics, mr.category);
        api_error_set(&e, 400, "moderation_blocked", "prompt",
                      "The prompt was refused by moderation (category: %s).", mr.category);
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    if (g.q.stream) {
        api_error_set(&e, 400, "unsupported_value", "stream",
                      "Streaming responses are not supported by this server yet; send "
                      "\"stream\": false.");
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }

    /* Resolve auto values from the model's profile. */
    api_size_t size = g.q.size == SIZE_AUTO ? g.model->default_size : g.q.size;
    api_quality_t quality = g.q.quality == QUALITY_AUTO ? g.model->default_quality : g.q.quality;
    api_background_t bg = g.q.background == BACKGROUND_AUTO ? g.model->default_background : g.q.background;
    if (bg == BACKGROUND_TRANSPARENT && g.q.output_format == FORMAT_JPEG) bg = BACKGROUND_OPAQUE;
    g.cost = price_cost(&s->cfg->prices, quality, size, g.q.n);

    /* Idempotency: a retry with the same key and body gets the first answer. */
    char hash[65] = "";
    const char *ik = req_header(r, "Idempotency-Key");
    if (ik) {
        if (!*ik || strlen(ik) >= sizeof g.idem_key) {
            api_error_set(&e, 400, "invalid_value", "Idempotency-Key",
                          "Header 'Idempotency-Key' must be 1 to 255 characters.");
            api_request_free(&g.q);
            return respond_error(r, &e, NULL, 0);
        }
        snprintf(g.idem_key, sizeof g.idem_key, "%s", ik);
        buf_t hb = {0};
        buf_printf(&hb, "%s\n", r->url);
        buf_append(&hb, r->body.data, r->body.len);
        crypto_sha256_hex(hb.data, hb.len, hash);
        buf_free(&hb);
        store_idem_t rec;
        int rc = store_idem_begin(s->store, g.key.id, g.idem_key, hash, clock_wall(),
                                  (int64_t)s->cfg->idempotency_hours * 3600, &rec);
        if (rc == IMG_EINVAL) {
            free(rec.body);
            api_error_set(&e, 400, "idempotency_key_reused", "Idempotency-Key",
                          "This Idempotency-Key was used with a different request body.");
            api_request_free(&g.q);
            return respond_error(r, &e, NULL, 0);
        }
        if (rc == IMG_EEXIST) {
            if (replay(&g, &rec, hash, &res)) {
                api_request_free(&g.q);
                return res;
            }
        } else if (rc == IMG_OK) {
            g.idem_owned = 1;
        } else {
            api_error_set(&e, 500, "internal_error", NULL, "The store is unavailable.");
            api_request_free(&g.q);
            return respond_error(r, &e, NULL, 0);
        }
    }

    /* Rate limits. */
    int rpm = g.key.rpm > 0 ? g.key.rpm : s->cfg->rpm;
    int conc = g.key.concurrency > 0 ? g.key.concurrency : s->cfg->concurrency;
    rl_result_t rl;
    ratelimit_acquire(s->limits, g.key.id, rpm, conc, clock_mono(), &rl);
    add_hdr(&g, "x-ratelimit-limit-requests", "%.0f", rl.limit);
    add_hdr(&g, "x-ratelimit-remaining-requests", "%.0f", rl.remaining);
    add_hdr(&g, "x-ratelimit-reset-requests", "%.3fs", rl.reset_seconds);
    if (!rl.allowed) {
        add_hdr(&g, "Retry-After", "%.0f", rl.retry_after < 1 ? 1 : rl.retry_after + 0.999);
        if (rl.over_concurrency)
            api_error_set(&e, 429, "concurrency_limit_exceeded", NULL,
                          "Too many concurrent requests for this API key (limit %d).", conc);
        else
            api_error_set(&e, 429, "rate_limit_exceeded", NULL,
                          "Rate limit reached: %d requests per minute for this API key.", rpm);
        res = fail(&g, &e);
        api_request_free(&g.q);
        return res;
    }
    g.limit_held = 1;

    /* Reserve the cost. */
    int rc = store_reserve(s->store, g.key.id, r->request_id, g.cost);
    if (rc == IMG_ECREDITS) {
        char need[32], have[32];
        usd(g.cost, need);
        usd(g.key.balance, have);
        api_error_set(&e, 406, "insufficient_credits", NULL,
                      "Insufficient credits: this request costs $%s and the balance is $%s.", need,
                      have);
        res = fail(&g, &e);
        api_request_free(&g.q);
        return res;
    }
    if (rc) {
        api_error_set(&e, 500, "internal_error", NULL, "The credit ledger is unavailable.");
        res = fail(&g, &e);
        api_request_free(&g.q);
        return res;
    }
    g.reserved = 1;

    /* Queue the job. */
    job_spec_t spec = {
        .prompt = g.q.prompt,
        .negative_prompt = g.q.negative_prompt,
        .quality = quality,
        .background = bg,
        .format = g.q.output_format,
        .compression = g.q.output_compression,
        .n = g.q.n,
        .deadline = clock_mono() + timeout,
    };
    snprintf(spec.model_id, sizeof spec.model_id, "%s", g.model->id);
    api_size_dims(size, &spec.width, &spec.height);
    if (g.q.has_seed) {
        spec.seed = g.q.seed;
    } else if (crypto_random(&spec.seed, sizeof spec.seed)) {
        spec.seed = (uint32_t)clock_wall();
    }
    job_t *job = NULL;
    if (job_create(&spec, r->request_id, &job)) {
        api_error_set(&e, 500, "internal_error", NULL, "Out of memory.");
        res = fail(&g, &e);
        api_request_free(&g.q);
        return res;
    }
    rc = queue_submit(s->queue, job);
    if (rc) {
        job_release(job);
        if (rc == IMG_EBUSY) {
            add_hdr_str(&g, "Retry-After", "2");
            api_error_set(&e, 429, "queue_full", NULL, "The server is busy (queue full); retry later.");
        } else {
            api_error_set(&e, 502, "server_shutting_down", NULL, "The server is shutting down.");
        }
        res = fail(&g, &e);
        api_request_free(&g.q);
        return res;
    }

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
        char *body = success_json(&g, job, size, quality, bg);
        if (!body) {
            api_error_set(&e, 500, "internal_error", NULL, "Out of memory.");
            res = fail(&g, &e);
        } else {
            store_usage_t u = {.key_id = g.key.id, .request_id = r->request_id,
                               .route = r->route->label, .model = g.model->id,
                               .quality = api_quality_name(quality), .size = api_size_name(size),
                               .n = g.q.n, .cost = g.cost};
            rc = store_charge(s->store, r->request_id, &u, g.idem_owned ? g.idem_key : NULL, 200,
                              body);
            if (rc) {
                free(body);
                api_error_set(&e, 500, "internal_error", NULL, "The credit ledger is unavailable.");
                res = fail(&g, &e);
            } else {
                g.reserved = 0;
                ratelimit_release(s->limits, g.key.id);
                g.limit_held = 0;
                metrics_charged(s->metrics, g.cost);
                store_key_t after;
                char charged[32], remaining[32];
                usd(g.cost, charged);
                usd(store_key_get(s->store, g.key.id, &after) == IMG_OK ? after.balance
                                                                        : g.key.balance - g.cost,
                    remaining);
                add_hdr_str(&g, "x-credits-charged", charged);
                add_hdr_str(&g, "x-remaining-credits", remaining);
                res = respond(r, 200, "application/json", body, strlen(body), g.hdrs, g.nhdrs);
            }
        }
        metrics_job(s->metrics, "done", job_run_seconds(job));
    } else {
        const char *msg;
        int err = (st == JOB_FAILED || st == JOB_CANCELLED) ? job_error(job, &msg) : 0;
        if (timed_out || err == IMG_ETIMEDOUT) {
            api_error_set(&e, 504, "deadline_exceeded", NULL,
                          "The request passed its deadline of %.0f seconds.", timeout);
            metrics_job(s->metrics, "timeout", job_run_seconds(job));
        } else if (gone) {
            api_error_set(&e, 499, "client_closed_request", NULL, "The client went away.");
            metrics_job(s->metrics, "cancelled", job_run_seconds(job));
        } else if (shutdown || st == JOB_CANCELLED) {
            api_error_set(&e, 502, "server_shutting_down", NULL,
                          "The server is shutting down; the job was cancelled.");
            metrics_job(s->metrics, "cancelled", job_run_seconds(job));
        } else if (err == IMG_ENOMEM) {
            api_error_set(&e, 500, "internal_error", NULL, "The server ran out of memory.");
            metrics_job(s->metrics, "failed", job_run_seconds(job));
        } else {
            log_line(&s->log, "job %s failed: %s", r->request_id, msg);
            api_error_set(&e, 502, "generation_failed", NULL,
                          "No worker could run the job: the model failed to load or generate.");
            metrics_job(s->metrics, "failed", job_run_seconds(job));
        }
        res = fail(&g, &e);
        if (gone) res = MHD_NO; /* nobody to answer: close */
    }
    job_release(job);
    api_request_free(&g.q);
    return res;
}

enum MHD_Result h_generate_seed(req_t *r) { return generate(r, ROUTE_KIND_SEED, r->param); }

enum MHD_Result h_generate_openai(req_t *r) {
    return generate(r, ROUTE_KIND_OPENAI, REGISTRY_ALIAS);
}
