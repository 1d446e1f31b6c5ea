/* admin.c - the admin routes: keys and credits, guarded by the admin token (never a client key).
 * With no admin token configured the admin routes do not exist (404). */
#include "api/json_body.h"
#include "api/pricing.h"
#include "common/crypto.h"
#include "common/status.h"
#include "server/internal.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int admin_check(req_t *r) {
    const char *want = r->srv->cfg->admin_token;
    if (!want[0]) {
        respond_simple_error(r, 404, "not_found", NULL, "Not found.");
        return -1;
    }
    const char *got = req_header(r, "x-admin-token");
    const char *auth = req_header(r, "Authorization");
    if (!got) got = hdr_bearer(auth);
    uint8_t a[32], b[32];
    crypto_sha256(want, strlen(want), a);
    crypto_sha256(got ? got : "", got ? strlen(got) : 0, b);
    if (!got || !crypto_equal(a, b, 32)) {
        respond_simple_error(r, 401, "invalid_admin_token", NULL, "Invalid admin token.");
        return -1;
    }
    return 0;
}

static json_t *key_json(const store_key_t *k) {
    return json_pack("{s:s, s:f, s:f, s:f, s:f, s:i, s:i, s:s, s:b, s:I}", "id", k->id, "granted",
                     k->granted / 1e6, "balance", k->balance / 1e6, "reserved", k->reserved / 1e6,
                     "charged", k->charged / 1e6, "rpm", k->rpm, "concurrency", k->concurrency,
                     "models", k->models, "revoked", k->revoked, "created", (json_int_t)k->created);
}

static enum MHD_Result send_json(req_t *r, int status, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(j);
    return respond_json(r, status, s, NULL, 0);
}

/* The body as a JSON object (an empty body is {}), read as every route reads one; NULL with *e
 * set when it is not one. */
static json_t *body_object(req_t *r, api_error_t *e) {
    json_t *j;
    return api_json_body((const char *)r->body.data, r->body.len, 1, &j, e) ? NULL : j;
}

/* A dollar amount: absent 1, valid 0 (*micro set), anything else -1. */
static int get_usd(json_t *o, const char *name, int64_t *micro) {
    json_t *v = json_object_get(o, name);
    if (!v) return 1;
    char tmp[64];
    int n;
    if (json_is_integer(v))
        n = snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        n = snprintf(tmp, sizeof tmp, "%.6f", json_real_value(v));
    else if (json_is_string(v))
        n = snprintf(tmp, sizeof tmp, "%s", json_string_value(v));
    else
        return -1;
    if (n < 0 || (size_t)n >= sizeof tmp) return -1; /* never parse a cut-off amount */
    return price_parse_usd(tmp, micro) ? -1 : 0;
}

/* An optional integer limit from lo to hi: absent leaves *out, else 0 or -1 with *e set. */
static int get_limit(json_t *o, const char *name, int lo, int hi, int *out, api_error_t *e) {
    json_t *v = json_object_get(o, name);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        api_error_set(e, 400, "invalid_value", name,
                      "'%s' must be an integer from %d to %d (0 = the server's default).", name, lo,
                      hi);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static const char MAX_GRANT_TEXT[] = "$1000000000"; /* STORE_MAX_GRANTED_MICRO in dollars */

enum MHD_Result h_admin_keys_create(req_t *r) {
    if (admin_check(r)) return MHD_YES;
    api_error_t e;
    json_t *o = body_object(r, &e);
    if (!o) return respond_error(r, &e, NULL, 0);
    store_key_t k = {0};
    const char *name;
    json_t *v;
    json_object_foreach(o, name, v) {
        if (strcmp(name, "credits") && strcmp(name, "rpm") && strcmp(name, "concurrency") &&
            strcmp(name, "models")) {
            api_error_set(&e, 400, "unknown_parameter", name, "Unknown parameter: '%.64s'.", name);
            json_decref(o);
            return respond_error(r, &e, NULL, 0);
        }
    }
    int bad = 0;
    if (get_usd(o, "credits", &k.granted) < 0 || k.granted > STORE_MAX_GRANTED_MICRO) {
        api_error_set(&e, 400, "invalid_value", "credits",
                      "'credits' must be a dollar amount from 0 to %s.", MAX_GRANT_TEXT);
        bad = 1;
    } else if (get_limit(o, "rpm", 0, 1000000, &k.rpm, &e) ||
               get_limit(o, "concurrency", 0, 10000, &k.concurrency, &e)) {
        bad = 1;
    } else if ((v = json_object_get(o, "models"))) {
        if (!json_is_string(v) || json_string_length(v) >= sizeof k.models) {
            api_error_set(&e, 400, "invalid_value", "models",
                          "'models' must be a comma-separated string of model ids.");
            bad = 1;
        } else {
            snprintf(k.models, sizeof k.models, "%s", json_string_value(v));
        }
    }
    json_decref(o);
    if (bad) return respond_error(r, &e, NULL, 0);
    char id[STORE_KEY_ID_LEN + 1], secret[STORE_SECRET_LEN + 1];
    if (store_key_create(r->srv->store, &k, id, secret))
        return respond_simple_error(r, 500, "internal_error", NULL, "The key could not be created.");
    return send_json(r, 200, json_pack("{s:s, s:s}", "id", id, "key", secret));
}

enum MHD_Result h_admin_keys_list(req_t *r) {
    if (admin_check(r)) return MHD_YES;
    store_key_t *keys;
    size_t n;
    if (store_key_list(r->srv->store, &keys, &n))
        return respond_simple_error(r, 500, "internal_error", NULL, "The store is unavailable.");
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, key_json(&keys[i]));
    free(keys);
    return send_json(r, 200, json_pack("{s:o}", "keys", arr));
}

/* The key the path names (by id; a secret there still resolves, but is never echoed: answers
 * carry the id, and the log redacts secrets). 0, or -1 after answering 404/500. */
static int path_key(req_t *r, store_key_t *k) {
    int rc = store_key_get(r->srv->store, r->param, k);
    if (rc == IMG_ENOTFOUND) {
        respond_simple_error(r, 404, "key_not_found", NULL, "No such key.");
        return -1;
    }
    if (rc) {
        respond_simple_error(r, 500, "internal_error", NULL, "The store is unavailable.");
        return -1;
    }
    return 0;
}

enum MHD_Result h_admin_key_show(req_t *r) {
    if (admin_check(r)) return MHD_YES;
    store_key_t k;
    if (path_key(r, &k)) return MHD_YES;
    json_t *j = key_json(&k);
    int64_t reqs = 0, imgs = 0;
    store_usage_count(r->srv->store, k.id, &reqs, &imgs);
    json_object_set_new(j, "usage", json_pack("{s:I, s:I}", "requests", (json_int_t)reqs, "images",
                                              (json_int_t)imgs));
    return send_json(r, 200, j);
}

enum MHD_Result h_admin_key_revoke(req_t *r) {
    if (admin_check(r)) return MHD_YES;
    store_key_t k;
    if (path_key(r, &k)) return MHD_YES;
    int rc = store_key_revoke(r->srv->store, k.id);
    if (rc == IMG_ENOTFOUND) return respond_simple_error(r, 404, "key_not_found", NULL, "No such key.");
    if (rc) return respond_simple_error(r, 500, "internal_error", NULL, "The store is unavailable.");
    return send_json(r, 200, json_pack("{s:s, s:b}", "id", k.id, "revoked", 1));
}

enum MHD_Result h_admin_key_credits(req_t *r) {
    if (admin_check(r)) return MHD_YES;
    api_error_t e;
    json_t *o = body_object(r, &e);
    if (!o) return respond_error(r, &e, NULL, 0);
    int64_t micro = 0;
    int rc = get_usd(o, "usd", &micro);
    json_decref(o);
    if (rc != 0 || micro > STORE_MAX_GRANTED_MICRO)
        return respond_simple_error(r, 400, "invalid_value", "usd",
                                    "'usd' must be a dollar amount from 0 to $1000000000 (the most a key may hold).");
    store_key_t k;
    if (path_key(r, &k)) return MHD_YES;
    rc = store_credits_grant(r->srv->store, k.id, micro);
    if (rc == IMG_ENOTFOUND) return respond_simple_error(r, 404, "key_not_found", NULL, "No such key.");
    if (rc == IMG_ERANGE)
        return respond_simple_error(r, 400, "grant_limit_exceeded", "usd",
                                    "This grant would take the key's total granted credits past "
                                    "$1000000000, the most a key may hold.");
    if (rc) return respond_simple_error(r, 500, "internal_error", NULL, "The store is unavailable.");
    if (store_key_get(r->srv->store, k.id, &k))
        return respond_simple_error(r, 500, "internal_error", NULL, "The store is unavailable.");
    return send_json(r, 200, key_json(&k));
}
