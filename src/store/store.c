/* store.c - backend dispatch, key generation and authentication shared by all backends. */
#include "store/store.h"
#include "common/crypto.h"
#include "common/status.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store {
    const store_ops_t *ops;
    void *impl;
};

int store_open(const char *where, int busy_ms, store_t **out, char *err, size_t errlen) {
    store_t *s = calloc(1, sizeof *s);
    if (!s) return IMG_ENOMEM;
    int rc;
    if (strncmp(where, "postgres://", 11) == 0 || strncmp(where, "postgresql://", 13) == 0) {
        rc = store_pg_open(where, busy_ms, &s->ops, &s->impl, err, errlen);
    } else {
        rc = store_sqlite_open(where, busy_ms, &s->ops, &s->impl, err, errlen);
    }
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return IMG_OK;
}

void store_close(store_t *s) {
    if (!s) return;
    s->ops->close(s->impl);
    free(s);
}

int store_ping(store_t *s) {
    return s->ops->ping(s->impl);
}

/* A secret is "sk-" + 16 hex chars (the public id) + 48 hex chars (192 random bits). */
static int secret_id(const char *secret, char id[STORE_KEY_ID_LEN + 1]) {
    if (strlen(secret) != STORE_SECRET_LEN || strncmp(secret, "sk-", 3) != 0) return -1;
    for (int i = 3; i < STORE_SECRET_LEN; i++)
        if (!strchr("0123456789abcdef", secret[i])) return -1;
    snprintf(id, STORE_KEY_ID_LEN + 1, "key_%.16s", secret + 3);
    return 0;
}

static void resolve_id(const char *id_or_secret, char id[STORE_KEY_ID_LEN + 1]) {
    if (secret_id(id_or_secret, id) != 0) snprintf(id, STORE_KEY_ID_LEN + 1, "%s", id_or_secret);
}

int store_key_create(store_t *s, const store_key_t *tmpl, char id_out[STORE_KEY_ID_LEN + 1],
                     char secret_out[STORE_SECRET_LEN + 1]) {
    uint8_t raw[32];
    char hex[65];
    if (tmpl->granted < 0) return IMG_EINVAL;
    if (tmpl->granted > STORE_MAX_GRANTED_MICRO) return IMG_ERANGE;
    if (tmpl->rpm < 0 || tmpl->concurrency < 0) return IMG_EINVAL;
    if (crypto_random(raw, sizeof raw)) return IMG_EIO;
    crypto_hex(raw, 32, hex);
    snprintf(secret_out, STORE_SECRET_LEN + 1, "sk-%.64s", hex);
    store_key_t k = *tmpl;
    secret_id(secret_out, k.id);
    k.balance = k.granted;
    k.reserved = k.charged = 0;
    k.revoked = 0;
    uint8_t hash[32];
    crypto_sha256(secret_out, STORE_SECRET_LEN, hash);
    int rc = s->ops->key_insert(s->impl, &k, hash);
    if (rc == IMG_OK) snprintf(id_out, STORE_KEY_ID_LEN + 1, "%s", k.id);
    return rc;
}

int store_key_authenticate(store_t *s, const char *secret, store_key_t *out) {
    char id[STORE_KEY_ID_LEN + 1];
    uint8_t want[32], got[32];
    /* Hash first so that a malformed key costs the same as a well-formed one. */
    crypto_sha256(secret, strlen(secret), got);
    if (secret_id(secret, id) != 0) return IMG_ENOTFOUND;
    int rc = s->ops->key_get(s->impl, id, out, want);
    if (rc) return rc;
    if (!crypto_equal(want, got, 32)) return IMG_ENOTFOUND;
    return out->revoked ? IMG_EDENIED : IMG_OK;
}

int store_key_get(store_t *s, const char *id_or_secret, store_key_t *out) {
    char id[STORE_KEY_ID_LEN + 1];
    uint8_t hash[32];
    resolve_id(id_or_secret, id);
    return s->ops->key_get(s->impl, id, out, hash);
}

int store_key_list(store_t *s, store_key_t **out, size_t *n) {
    return s->ops->key_list(s->impl, out, n);
}

int store_key_revoke(store_t *s, const char *id_or_secret) {
    char id[STORE_KEY_ID_LEN + 1];
    resolve_id(id_or_secret, id);
    return s->ops->key_revoke(s->impl, id);
}

int store_credits_grant(store_t *s, const char *id_or_secret, int64_t micro) {
    char id[STORE_KEY_ID_LEN + 1];
    resolve_id(id_or_secret, id);
    if (micro < 0) return IMG_EINVAL;
    if (micro > STORE_MAX_GRANTED_MICRO) return IMG_ERANGE;
    return s->ops->grant(s->impl, id, micro);
}

int store_reserve(store_t *s, const char *key_id, const char *job_id, int64_t micro) {
    if (micro < 0) return IMG_EINVAL;
    if (micro > STORE_MAX_GRANTED_MICRO) return IMG_ECREDITS; /* more than any balance can hold */
    return s->ops->reserve(s->impl, key_id, job_id, micro);
}

int store_charge(store_t *s, const char *job_id, const store_usage_t *u, const char *idem_key,
                 int idem_status, const char *idem_body) {
    return s->ops->charge(s->impl, job_id, u, idem_key, idem_status, idem_body);
}

int store_release(store_t *s, const char *job_id) {
    return s->ops->release(s->impl, job_id);
}

int store_release_orphans(store_t *s, int *count) {
    return s->ops->release_orphans(s->impl, count);
}

int store_idem_begin(store_t *s, const char *key_id, const char *idem_key, const char *hash,
                     int64_t now, int64_t ttl, store_idem_t *existing) {
    return s->ops->idem_begin(s->impl, key_id, idem_key, hash, now, ttl, existing);
}

int store_idem_finish(store_t *s, const char *key_id, const char *idem_key, int status,
                      const char *body) {
    return s->ops->idem_finish(s->impl, key_id, idem_key, status, body);
}

int store_idem_abandon(store_t *s, const char *key_id, const char *idem_key) {
    return s->ops->idem_abandon(s->impl, key_id, idem_key);
}

int store_usage_count(store_t *s, const char *key_id, int64_t *requests, int64_t *images) {
    return s->ops->usage_count(s->impl, key_id, requests, images);
}

int store_limits_take(store_t *s, const char *key_id, int rpm, int concurrency, double *retry_after,
                      int *over_concurrency) {
    *retry_after = 0;
    *over_concurrency = 0;
    if (!s->ops->limits_take) return IMG_OK;
    return s->ops->limits_take(s->impl, key_id, rpm, concurrency, retry_after, over_concurrency);
}

int store_key_allows(const store_key_t *k, const char *model) {
    if (!k->models[0]) return 1;
    size_t ml = strlen(model);
    const char *p = k->models;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == ml && strncmp(p, model, l) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

int store_areq_insert(store_t *s, const store_areq_t *a) {
    return s->ops->areq_insert(s->impl, a);
}

int store_areq_get(store_t *s, const char *id, int64_t now, int payload, store_areq_t *out) {
    return s->ops->areq_get(s->impl, id, now, payload, out);
}

int store_areq_queued(store_t *s, store_areq_t **out, size_t *n) {
    return s->ops->areq_queued(s->impl, out, n);
}

int store_areq_start(store_t *s, const char *id) {
    return s->ops->areq_start(s->impl, id);
}

int store_areq_complete(store_t *s, const char *id, const store_usage_t *u, const char *output,
                        double seconds, int64_t now, const char *hook_body) {
    return s->ops->areq_complete(s->impl, id, u, output, seconds, now, hook_body);
}

int store_areq_fail(store_t *s, const char *id, const char *code, const char *message,
                    double seconds, int64_t now, const char *hook_body) {
    return s->ops->areq_fail(s->impl, id, code, message, seconds, now, hook_body);
}

int store_areq_cancel(store_t *s, const char *id, const char *key_id, int64_t now) {
    return s->ops->areq_cancel(s->impl, id, key_id, now);
}

int store_areq_sweep(store_t *s, int64_t now, int *count) {
    return s->ops->areq_sweep(s->impl, now, count);
}

void store_areq_clear(store_areq_t *a) {
    free(a->body);
    free(a->output);
    a->body = a->output = NULL;
}

const char *store_areq_status_name(int status) {
    static const char *const NAMES[] = {"QUEUED", "PROCESSING", "COMPLETED", "FAILED"};
    return status >= 0 && status <= AREQ_FAILED ? NAMES[status] : "FAILED";
}

static int new_hook_secret(char out[STORE_HOOK_SECRET_LEN + 1]) {
    uint8_t raw[32];
    if (crypto_random(raw, sizeof raw)) return IMG_EIO;
    memcpy(out, "whsec_", 6);
    crypto_hex(raw, 32, out + 6);
    return IMG_OK;
}

int store_hook_key_get(store_t *s, const char *key_id, char *url, size_t url_len, char *secret) {
    char candidate[STORE_HOOK_SECRET_LEN + 1]; /* stored only if the key has no secret yet */
    if (new_hook_secret(candidate)) return IMG_EIO;
    return s->ops->hook_key_get(s->impl, key_id, candidate, url, url_len, secret);
}

int store_hook_key_set(store_t *s, const char *key_id, const char *url, int rotate) {
    char secret[STORE_HOOK_SECRET_LEN + 1];
    if (new_hook_secret(secret)) return IMG_EIO;
    return s->ops->hook_key_set(s->impl, key_id, url, secret, rotate);
}

int store_hook_due(store_t *s, double now, int limit, store_hook_t **out, size_t *n) {
    return s->ops->hook_due(s->impl, now, limit, out, n);
}

int store_hook_result(store_t *s, int64_t id, int delivered, int http, const char *error,
                      double next_at) {
    return s->ops->hook_result(s->impl, id, delivered, http, error, next_at);
}

int store_hook_list(store_t *s, const char *key_id, store_hook_t **out, size_t *n) {
    return s->ops->hook_list(s->impl, key_id, out, n);
}

void store_hook_free(store_hook_t *h, size_t n) {
    if (!h) return;
    for (size_t i = 0; i < n; i++)
        free(h[i].body);
    free(h);
}
