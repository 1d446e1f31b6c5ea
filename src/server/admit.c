/* admit.c - admission of a generation request, shared by the sync and async routes. */
#include "server/admit.h"
#include "api/pricing.h"
#include "common/base64.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/status.h"
#include "common/text.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void admit_hdrf(admit_t *a, const char *name, const char *fmt, double v) {
    if (a->nhdrs >= 8) return;
    snprintf(a->hbuf[a->nhdrs], sizeof a->hbuf[0], fmt, v);
    a->hdrs[a->nhdrs].name = name;
    a->hdrs[a->nhdrs].value = a->hbuf[a->nhdrs];
    a->nhdrs++;
}

void admit_hdr(admit_t *a, const char *name, const char *value) {
    if (a->nhdrs >= 8) return;
    snprintf(a->hbuf[a->nhdrs], sizeof a->hbuf[0], "%s", value);
    a->hdrs[a->nhdrs].name = name;
    a->hdrs[a->nhdrs].value = a->hbuf[a->nhdrs];
    a->nhdrs++;
}

void admit_release(admit_t *a, const api_error_t *e, const char *body) {
    server_t *s = a->r->srv;
    if (a->reserved) store_release(s->store, a->r->request_id);
    if (a->limit_held) ratelimit_release(s->limits, a->key.id);
    a->reserved = a->limit_held = 0;
    if (a->idem_owned) {
        /* an answer that is final for this body (4xx other than 429) is what a retry gets */
        if (e->status >= 400 && e->status < 500 && e->status != 429 && e->status != 499 && body)
            store_idem_finish(s->store, a->key.id, a->idem_key, e->status, body);
        else
            store_idem_abandon(s->store, a->key.id, a->idem_key);
        a->idem_owned = 0;
    }
}

enum MHD_Result admit_fail(admit_t *a, const api_error_t *e) {
    char *body = api_error_json(e, a->r->style);
    admit_release(a, e, body);
    return respond_json(a->r, e->status, body, a->hdrs, a->nhdrs);
}

int admit_charge(admit_t *a, const char *idem_body, api_error_t *e) {
    server_t *s = a->r->srv;
    store_usage_t u = {.key_id = a->key.id,
                       .request_id = a->r->request_id,
                       .route = a->r->route->label,
                       .model = a->model->id,
                       .quality = api_quality_name(a->quality),
                       .size = api_size_name(a->size),
                       .n = a->q.n,
                       .cost = a->cost};
    if (store_charge(s->store, a->r->request_id, &u, a->idem_owned ? a->idem_key : NULL, 200,
                     idem_body)) {
        api_error_set(e, 500, "internal_error", NULL, "The credit ledger is unavailable.");
        return -1;
    }
    a->reserved = 0;
    a->idem_owned = 0;
    ratelimit_release(s->limits, a->key.id);
    a->limit_held = 0;
    metrics_charged(s->metrics, a->cost);
    store_key_t after;
    char charged[32], remaining[32];
    price_format_usd(a->cost, charged, sizeof charged);
    price_format_usd(store_key_get(s->store, a->key.id, &after) == IMG_OK
                         ? after.balance
                         : a->key.balance - a->cost,
                     remaining, sizeof remaining);
    admit_hdr(a, "x-credits-charged", charged);
    admit_hdr(a, "x-remaining-credits", remaining);
    return 0;
}

void admit_job_error(admit_t *a, job_t *job, job_state_t st, int gone, int shutdown, int timed_out,
                     api_error_t *e) {
    server_t *s = a->r->srv;
    const char *msg = "";
    int err = (st == JOB_FAILED || st == JOB_CANCELLED) ? job_error(job, &msg) : 0;
    if (timed_out || err == IMG_ETIMEDOUT) {
        api_error_set(e, 504, "deadline_exceeded", NULL,
                      "The request passed its deadline of %.0f seconds.", a->timeout);
        metrics_job(s->metrics, "timeout", job_run_seconds(job));
    } else if (gone) {
        api_error_set(e, 499, "client_closed_request", NULL, "The client went away.");
        metrics_job(s->metrics, "cancelled", job_run_seconds(job));
    } else if (shutdown || st == JOB_CANCELLED) {
        api_error_set(e, 502, "server_shutting_down", NULL,
                      "The server is shutting down; the job was cancelled.");
        metrics_job(s->metrics, "cancelled", job_run_seconds(job));
    } else if (err == IMG_EADAPTER) { /* the message names the adapter as the request did */
        char safe[400]; /* module names come from the adapter's file: valid UTF-8, cut whole */
        text_utf8_copy(safe, sizeof safe, msg && *msg ? msg : "A LoRA does not apply to this model.",
                       strlen(msg && *msg ? msg : "A LoRA does not apply to this model."));
        api_error_set(e, 400, "invalid_value", "loras", "%s", safe);
        metrics_job(s->metrics, "failed", job_run_seconds(job));
    } else if (err == IMG_ENOMEM) {
        api_error_set(e, 500, "internal_error", NULL, "The server ran out of memory.");
        metrics_job(s->metrics, "failed", job_run_seconds(job));
    } else {
        log_line(&s->log, "job %s failed: %s", a->r->request_id, msg ? msg : "");
        api_error_set(e, 502, "generation_failed", NULL,
                      "No worker could run the job: the model failed to load or generate.");
        metrics_job(s->metrics, "failed", job_run_seconds(job));
    }
}

int admit_loras_exist(const config_t *cfg, const api_request_t *q, api_error_t *e) {
    for (int i = 0; i < q->nloras; i++) {
        char path[1024];
        struct stat st;
        int n = snprintf(path, sizeof path, "%s/%s.safetensors", cfg->lora_dir, q->loras[i].name);
        if (!cfg->lora_dir[0] || n < 0 || (size_t)n >= sizeof path || stat(path, &st) || !S_ISREG(st.st_mode)) {
            api_error_set(e, 400, "invalid_value", "loras",
                          "Unknown LoRA '%s': this server has no such adapter (GET /v1/models lists them).",
                          q->loras[i].name);
            return -1;
        }
    }
    return 0;
}

static int parse_timeout(admit_t *a, api_error_t *e) {
    const config_t *cfg = a->r->srv->cfg;
    a->timeout = cfg->deadline_seconds;
    const char *h = req_header(a->r, "x-timeout-seconds");
    if (!h) return 0;
    long v;
    if (hdr_timeout_seconds(h, &v)) {
        api_error_set(e, 400, "invalid_value", "x-timeout-seconds",
                      "Header 'x-timeout-seconds' must be a positive integer.");
        return -1;
    }
    a->timeout = v > cfg->max_deadline_seconds ? cfg->max_deadline_seconds : (double)v;
    return 0;
}

int admit_check(admit_t *a, req_t *r, api_route_kind_t kind, const char *model_name,
                api_error_t *e) {
    server_t *s = r->srv;
    memset(a, 0, sizeof *a);
    a->r = r;
    if (atomic_load(&s->stopping)) {
        api_error_set(e, 502, "server_shutting_down", NULL, "The server is shutting down.");
        return -1;
    }
    if (kind != ROUTE_KIND_EDIT && kind != ROUTE_KIND_VARIATION && !req_json_content_type(r)) {
        /* edits and variations: fields of a form */
        api_error_set(e, 400, "invalid_content_type", NULL,
                      "Content-Type must be application/json.");
        return -1;
    }
    if (api_request_parse(kind, (const char *)r->body.data, r->body.len, &a->q, e)) return -1;
    return admit_check_parsed(a, kind, model_name, e);
}

int admit_check_parsed(admit_t *a, api_route_kind_t kind, const char *model_name, api_error_t *e) {
    req_t *r = a->r;
    server_t *s = r->srv;
    if (parse_timeout(a, e)) return -1;
    if (admit_loras_exist(s->cfg, &a->q, e)) return -1;
    if (kind != ROUTE_KIND_SEED && a->q.model) model_name = a->q.model;
    a->model = registry_find(s->models, model_name);
    if (!a->model) {
        api_error_set(e, 404, "model_not_found", "model", "Model '%.64s' is not installed.",
                      model_name);
        return -1;
    }
    if (req_authenticate(r, &a->key, e)) return -1;
    if (!store_key_allows(&a->key, a->model->id)) {
        api_error_set(e, 403, "model_not_allowed", "model",
                      "This API key is not allowed to use model '%s'.", a->model->id);
        return -1;
    }
    /* Moderation: refused prompts cost nothing and are counted. The negative prompt is read
     * for what it takes away ("clothes" from a prompt about a child). */
    mod_result_t mr;
    mod_level_t level = a->q.moderation == MODERATION_LOW ? MOD_LEVEL_LOW : MOD_LEVEL_AUTO;
    if (mod_check(s->moderation, a->q.prompt, level, &mr)) {
        api_error_set(e, 500, "internal_error", NULL, "Out of memory.");
        return -1;
    }
    const char *param = "prompt";
    if (!mr.refused && a->q.negative_prompt && *a->q.negative_prompt) {
        if (mod_check_negative(s->moderation, a->q.prompt, a->q.negative_prompt, level, &mr)) {
            api_error_set(e, 500, "internal_error", NULL, "Out of memory.");
            return -1;
        }
        param = "negative_prompt";
    }
    if (mr.refused) {
        metrics_moderation_refusal(s->metrics, mr.category);
        api_error_set(e, 400, "moderation_blocked", param,
                      "The %s was refused by moderation (category: %s).",
                      !strcmp(param, "prompt") ? "prompt" : "negative prompt", mr.category);
        return -1;
    }
    /* Resolve auto values from the model's profile. */
    a->size = a->q.size == SIZE_AUTO ? a->model->default_size : a->q.size;
    a->quality = a->q.quality == QUALITY_AUTO ? a->model->default_quality : a->q.quality;
    a->background =
        a->q.background == BACKGROUND_AUTO ? a->model->default_background : a->q.background;
    if (a->background == BACKGROUND_TRANSPARENT && a->q.output_format == FORMAT_JPEG)
        a->background = BACKGROUND_OPAQUE;
    a->cost = price_cost(&s->cfg->prices, a->quality, a->size, a->q.n);
    return 0;
}

/* The 429 of a per-key limit (this process's or the one shared by gateways): -1. */
static int refuse_limit(admit_t *a, int over_concurrency, double retry_after, int rpm, int conc,
                        api_error_t *e) {
    admit_hdrf(a, "Retry-After", "%.0f", retry_after < 1 ? 1 : retry_after + 0.999);
    if (over_concurrency)
        api_error_set(e, 429, "concurrency_limit_exceeded", NULL,
                      "Too many concurrent requests for this API key (limit %d).", conc);
    else
        api_error_set(e, 429, "rate_limit_exceeded", NULL,
                      "Rate limit reached: %d requests per minute for this API key.", rpm);
    return -1;
}

int admit_take(admit_t *a, api_error_t *e) {
    server_t *s = a->r->srv;
    int rpm = a->key.rpm > 0 ? a->key.rpm : s->cfg->rpm;
    int conc = a->key.concurrency > 0 ? a->key.concurrency : s->cfg->concurrency;
    rl_result_t rl;
    ratelimit_acquire(s->limits, a->key.id, rpm, conc, clock_mono(), &rl);
    admit_hdrf(a, "x-ratelimit-limit-requests", "%.0f", rl.limit);
    admit_hdrf(a, "x-ratelimit-remaining-requests", "%.0f", rl.remaining);
    admit_hdrf(a, "x-ratelimit-reset-requests", "%.3fs", rl.reset_seconds);
    if (!rl.allowed) return refuse_limit(a, rl.over_concurrency, rl.retry_after, rpm, conc, e);
    a->limit_held = 1;
    /* the same limits across gateways that share a PostgreSQL store */
    double retry = 0;
    int over = 0, rc = store_limits_take(s->store, a->key.id, rpm, conc, &retry, &over);
    if (rc == IMG_EBUSY) return refuse_limit(a, over, retry, rpm, conc, e);
    if (rc) {
        api_error_set(e, 500, "internal_error", NULL, "The credit ledger is unavailable.");
        return -1;
    }
    rc = store_reserve(s->store, a->key.id, a->r->request_id, a->cost);
    if (rc == IMG_ECREDITS) {
        /* the balance read at authentication may be stale by now (other requests of the key
         * reserved meanwhile): quote the one the refusal saw */
        store_key_t now;
        if (store_key_get(s->store, a->key.id, &now) == IMG_OK) a->key.balance = now.balance;
        char need[32], have[32];
        price_format_usd(a->cost, need, sizeof need);
        price_format_usd(a->key.balance, have, sizeof have);
        api_error_set(e, 406, "insufficient_credits", NULL,
                      "Insufficient credits: this request costs $%s and the balance is $%s.", need,
                      have);
        return -1;
    }
    if (rc) {
        api_error_set(e, 500, "internal_error", NULL, "The credit ledger is unavailable.");
        return -1;
    }
    a->reserved = 1;
    return 0;
}

void admit_job_spec(const admit_t *a, job_spec_t *spec) {
    memset(spec, 0, sizeof *spec);
    spec->prompt = a->q.prompt;
    spec->negative_prompt = a->q.negative_prompt;
    spec->quality = a->quality;
    spec->background = a->background;
    spec->format = a->q.output_format;
    spec->compression = a->q.output_compression;
    spec->n = a->q.n;
    spec->nloras = a->q.nloras;
    memcpy(spec->loras, a->q.loras, sizeof spec->loras);
    spec->deadline = clock_mono() + a->timeout;
    snprintf(spec->model_id, sizeof spec->model_id, "%s", a->model->id);
    api_size_dims(a->size, &spec->width, &spec->height);
    if (a->q.width > 0 && a->q.height > 0) { /* an A1111 request's exact size */
        spec->width = a->q.width;
        spec->height = a->q.height;
    }
    spec->settings = a->q.settings;
    if (a->q.has_seed) {
        spec->seed = a->q.seed;
    } else if (crypto_random(&spec->seed, sizeof spec->seed)) {
        spec->seed = (uint32_t)clock_wall();
    }
}

int admit_enqueue(admit_t *a, const job_spec_t *spec, job_t **job, api_error_t *e) {
    *job = NULL;
    if (job_create(spec, a->r->request_id, job)) {
        api_error_set(e, 500, "internal_error", NULL, "Out of memory.");
        return -1;
    }
    int rc = queue_submit(a->r->srv->queue, *job);
    if (rc == IMG_OK) return 0;
    job_release(*job);
    *job = NULL;
    if (rc == IMG_EBUSY) {
        admit_hdr(a, "Retry-After", "2");
        api_error_set(e, 429, "queue_full", NULL, "The server is busy (queue full); retry later.");
    } else {
        api_error_set(e, 502, "server_shutting_down", NULL, "The server is shutting down.");
    }
    return -1;
}

char *admit_response_json(job_t *job, api_size_t size, api_quality_t quality, api_background_t bg,
                          api_format_t format) {
    int n;
    const job_image_t *imgs = job_images(job, &n);
    json_t *data = json_array();
    if (!data) return NULL;
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
    int in_tok = job_input_tokens(job), img_tok = job_image_tokens(job);
    int out_tok = price_output_tokens(quality, size) * n;
    json_t *root =
        json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:{s:i, s:i, s:i, s:{s:i, s:i}}}", "created",
                  (json_int_t)clock_wall(), "data", data, "background", api_background_name(bg),
                  "output_format", api_format_name(format), "quality", api_quality_name(quality),
                  "size", api_size_name(size), "usage", "input_tokens", in_tok + img_tok,
                  "output_tokens", out_tok, "total_tokens", in_tok + img_tok + out_tok,
                  "input_tokens_details", "text_tokens", in_tok, "image_tokens", img_tok);
    if (!root) return NULL;
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}
