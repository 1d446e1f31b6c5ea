/* requests.c - the asynchronous routes of SPEC §10: submit (POST /v2/{model}), status, result
 * (also at the v1 poll_url) and cancellation. Admission is the synchronous route's (admit.c), so
 * a bad request fails here exactly as it would there; the settler (async.c) does the rest. */
#include "api/json_body.h"
#include "common/clock.h"
#include "common/status.h"
#include "server/admit.h"
#include "server/async.h"
#include "server/edit_input.h"
#include "webhook/guard.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The base of the URLs handed to clients: public_base_url, else http://Host. */
static void base_url(req_t *r, char *out, size_t len) {
    const config_t *cfg = r->srv->cfg;
    if (cfg->public_base_url[0]) {
        snprintf(out, len, "%s", cfg->public_base_url);
        size_t n = strlen(out);
        if (n && out[n - 1] == '/') out[n - 1] = 0;
        return;
    }
    const char *host = req_header(r, "Host");
    /* a Host with characters that do not belong in one is not echoed back */
    if (!hdr_host_ok(host)) host = cfg->listen;
    snprintf(out, len, "http://%s", host);
}

/* The status fields every answer about a request carries (a new JSON object). */
static json_t *status_object(req_t *r, const char *id, const char *status, double inference_time) {
    char base[300], su[400], ru[400];
    base_url(r, base, sizeof base);
    snprintf(su, sizeof su, "%s/v2/requests/%s/status", base, id);
    snprintf(ru, sizeof ru, "%s/v2/requests/%s", base, id);
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:f}}", "status", status, "request_id", id,
                     "status_url", su, "response_url", ru, "metrics", "inference_time",
                     inference_time);
}

/* Takes "webhook_url" out of the body (the rest is the seed route's) into url. Returns 0, or -1
 * with *e set when it is not a string. The body is read by the parser every route uses, so a
 * duplicate key or a NUL is refused here exactly as admission would refuse it. */
static int take_webhook_url(req_t *r, char *url, size_t len, api_error_t *e) {
    url[0] = 0;
    if (!req_json_content_type(r)) return 0; /* admission reports it */
    json_t *root;
    if (api_json_body((const char *)r->body.data, r->body.len, 0, &root, e)) return -1;
    json_t *w = json_object_get(root, "webhook_url");
    if (!w) {
        json_decref(root);
        return 0;
    }
    if (!json_is_string(w) || json_string_length(w) > WEBHOOK_URL_MAX) {
        api_error_set(e, 400, "invalid_type", "webhook_url",
                      "'webhook_url' must be a URL string of at most %d characters.",
                      WEBHOOK_URL_MAX);
        json_decref(root);
        return -1;
    }
    snprintf(url, len, "%s", json_string_value(w));
    json_object_del(root, "webhook_url");
    char *rest = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!rest) {
        api_error_set(e, 500, "internal_error", NULL, "Out of memory.");
        return -1;
    }
    buf_free(&r->body);
    int rc = buf_append(&r->body, rest, strlen(rest));
    free(rest);
    if (rc) api_error_set(e, 500, "internal_error", NULL, "Out of memory.");
    return rc ? -1 : 0;
}

enum MHD_Result h_v2_submit(req_t *r) {
    server_t *s = r->srv;
    admit_t g;
    api_error_t e;
    enum MHD_Result res;
    char hook_url[WEBHOOK_URL_MAX + 1];
    edit_t ed = {0}; /* a JSON edit's inputs (SPEC §11) */
    memset(&g, 0, sizeof g);
    int bad = take_webhook_url(r, hook_url, sizeof hook_url, &e) ||
              admit_check(&g, r, ROUTE_KIND_SEED, r->param, &e);
    if (!bad && g.q.nimages) {
        edit_from_request(&ed, &g.q);
        bad = edit_prepare(&g, &ed, &e);
    }
    if (bad) {
        edit_free(&ed);
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    /* the request's own webhook, else the key's registered one; targets pass the SSRF guard */
    char reason[160], secret[STORE_HOOK_SECRET_LEN + 1];
    if (hook_url[0] &&
        guard_check_url(hook_url, s->cfg->webhook_allow_private, reason, sizeof reason)) {
        api_error_set(&e, 400, "invalid_value", "webhook_url", "%s.", reason);
        edit_free(&ed);
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    if (!hook_url[0] && store_hook_key_get(s->store, g.key.id, hook_url, sizeof hook_url, secret)) {
        api_error_set(&e, 500, "internal_error", NULL, "The key store is unavailable.");
        edit_free(&ed);
        api_request_free(&g.q);
        return respond_error(r, &e, NULL, 0);
    }
    if (admit_take(&g, &e)) {
        res = admit_fail(&g, &e);
        edit_free(&ed);
        api_request_free(&g.q);
        return res;
    }
    job_spec_t spec;
    admit_job_spec(&g, &spec);
    if (g.q.nimages) edit_job_spec(&ed, &g.q, &spec);
    int64_t ttl = s->cfg->async_result_seconds, now = clock_wall();
    /* not started by its expiry: it expires; once started it has the usual deadline */
    spec.start_deadline = clock_mono() + (double)ttl;
    spec.deadline = spec.start_deadline + g.timeout;
    job_t *job;
    if (admit_enqueue(&g, &spec, &job, &e)) {
        res = admit_fail(&g, &e);
        edit_free(&ed);
        api_request_free(&g.q);
        return res;
    }
    store_areq_t row = {.seed = spec.seed,
                        .cost = g.cost,
                        .created = now,
                        .ttl = ttl,
                        .body = (char *)r->body.data};
    snprintf(row.id, sizeof row.id, "%s", r->request_id);
    snprintf(row.key_id, sizeof row.key_id, "%s", g.key.id);
    snprintf(row.model, sizeof row.model, "%s", g.model->id);
    snprintf(row.route, sizeof row.route, "%s", r->route->label);
    snprintf(row.webhook_url, sizeof row.webhook_url, "%s", hook_url);
    char *body_copy = NULL;
    if (r->body.len && (body_copy = malloc(r->body.len + 1))) { /* the body is not NUL-terminated */
        memcpy(body_copy, r->body.data, r->body.len);
        body_copy[r->body.len] = 0;
    }
    row.body = body_copy;
    int rc = body_copy ? store_areq_insert(s->store, &row) : IMG_ENOMEM;
    free(body_copy);
    async_meta_t meta = {.size = g.size,
                         .quality = g.quality,
                         .background = g.background,
                         .format = g.q.output_format,
                         .n = g.q.n,
                         .cost = g.cost,
                         .limit_held = 1,
                         .webhook = hook_url[0] != 0};
    snprintf(meta.id, sizeof meta.id, "%s", r->request_id);
    snprintf(meta.key_id, sizeof meta.key_id, "%s", g.key.id);
    snprintf(meta.model, sizeof meta.model, "%s", g.model->id);
    snprintf(meta.route, sizeof meta.route, "%s", r->route->label);
    if (rc == IMG_OK) rc = async_track(s->async, &meta, job, 1);
    if (rc) {
        /* not recorded: stop the job and undo (only on a store or memory failure) */
        job_cancel(job, IMG_ECANCELLED);
        job_release(job);
        api_error_set(&e, 500, "internal_error", NULL, "The request store is unavailable.");
        res = admit_fail(&g, &e);
        edit_free(&ed);
        api_request_free(&g.q);
        return res;
    }
    edit_free(&ed);
    api_request_free(&g.q);
    /* the settler now owns the job, the reservation and the rate-limit slot */
    json_t *o = status_object(r, r->request_id, "QUEUED", 0);
    char base[300], poll[400];
    base_url(r, base, sizeof base);
    snprintf(poll, sizeof poll, "%s/v1/requests/%s", base, r->request_id);
    if (o) json_object_del(o, "metrics");
    if (o) json_object_set_new(o, "poll_url", json_string(poll));
    char *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return respond_json(r, 200, out, g.hdrs, g.nhdrs);
}

/* Authenticates and reads the caller's request (param); answers and returns -1 when it cannot. */
static int load_request(req_t *r, int payload, store_key_t *key, store_areq_t *a,
                        enum MHD_Result *res) {
    api_error_t e;
    if (req_authenticate(r, key, &e)) {
        *res = respond_error(r, &e, NULL, 0);
        return -1;
    }
    int rc = store_areq_get(r->srv->store, r->param, clock_wall(), payload, a);
    if (rc == IMG_OK &&
        strcmp(a->key_id, key->id) != 0) { /* another key's: it does not exist for you */
        store_areq_clear(a);
        rc = IMG_ENOTFOUND;
    }
    if (rc == IMG_ENOTFOUND) {
        *res = respond_simple_error(
            r, 404, "request_not_found", NULL,
            "No such request for this API key (results are kept for a limited time).");
        return -1;
    }
    if (rc) {
        *res = respond_simple_error(r, 500, "internal_error", NULL,
                                    "The request store is unavailable.");
        return -1;
    }
    return 0;
}

enum MHD_Result h_v2_status(req_t *r) {
    store_key_t key;
    store_areq_t a;
    enum MHD_Result res;
    if (load_request(r, 0, &key, &a, &res)) return res;
    json_t *o = status_object(r, a.id, store_areq_status_name(a.status), a.inference_time);
    char *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    store_areq_clear(&a);
    return respond_json(r, 200, out, NULL, 0);
}

/* The status fields plus "output" (the sync response, spliced in as stored) or "error". */
static char *result_json(req_t *r, const store_areq_t *a) {
    json_t *o = status_object(r, a->id, store_areq_status_name(a->status), a->inference_time);
    if (o && a->status == AREQ_FAILED)
        json_object_set_new(
            o, "error",
            json_pack("{s:s, s:s}", "message", a->error_message, "code", a->error_code));
    char *head = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!head || a->status != AREQ_COMPLETED || !a->output) return head;
    size_t hl = strlen(head), ol = strlen(a->output);
    char *out = malloc(hl + ol + 16);
    if (out) /* head ends with '}': {...,"output":OUTPUT} */
        snprintf(out, hl + ol + 16, "%.*s,\"output\":%s}", (int)(hl - 1), head, a->output);
    free(head);
    return out;
}

enum MHD_Result h_v2_result(req_t *r) {
    store_key_t key;
    store_areq_t a;
    enum MHD_Result res;
    if (load_request(r, 1, &key, &a, &res)) return res;
    char *out = result_json(r, &a);
    store_areq_clear(&a);
    return respond_json(r, 200, out, NULL, 0);
}

enum MHD_Result h_v2_cancel(req_t *r) {
    server_t *s = r->srv;
    store_key_t key;
    store_areq_t a;
    enum MHD_Result res;
    if (load_request(r, 0, &key, &a, &res)) return res;
    store_areq_clear(&a);
    int rc = a.status == AREQ_QUEUED ? async_cancel(s->async, a.id, key.id) : IMG_EBUSY;
    if (rc == IMG_OK || rc == IMG_ENOTFOUND) /* ENOTFOUND: not in memory (cannot run here) */
        rc = store_areq_cancel(s->store, a.id, key.id, clock_wall());
    if (rc == IMG_EBUSY)
        return respond_simple_error(
            r, 400, "request_not_cancellable", NULL,
            "The request has already started or ended; only a queued request can be cancelled.");
    if (rc)
        return respond_simple_error(r, rc == IMG_ENOTFOUND ? 404 : 500,
                                    rc == IMG_ENOTFOUND ? "request_not_found" : "internal_error",
                                    NULL,
                                    rc == IMG_ENOTFOUND ? "No such request for this API key."
                                                        : "The request store is unavailable.");
    if (store_areq_get(s->store, a.id, clock_wall(), 0, &a))
        return respond_simple_error(r, 500, "internal_error", NULL,
                                    "The request store is unavailable.");
    char *out = result_json(r, &a);
    store_areq_clear(&a);
    return respond_json(r, 200, out, NULL, 0);
}
