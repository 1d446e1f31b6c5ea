/* admin.c - the admin routes: keys and credits, guarded by the admin token (never a client key).
 * With no admin token configured the admin routes do not exist (404). */
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

static json_t *body_object(req_t *r) {
    if (r->body.len == 0) return json_object();
    json_t *j = json_loadb((const char *)r->body.data, r->body.len, 0, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int get_usd(json_t *o, const char *name, int64_t *micro) {
    json_t *v = json_object_get(o, name);
    if (!v) return 1;
    char tmp[64];
    if (json_is_integer(v))
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(tmp, sizeof tmp, "%.6f", json_real_value(v));
    else if (json_is_string(v))
        snprintf(tmp, sizeof tmp, "%s", json_string_value(v));
    else
        return -1;
    return price_parse_usd(tmp, micro) ? -1 : 0;
}

enum MHD_Result h_admin_keys_create(req_t *r) {
    if (admin_check(r)) return MHD_YES;
    json_t *o = body_object(r);
    if (!o) return respond_simple_error(r, 400, "invalid_json", NULL, "The body must be a JSON object.");
    store_key_t k = {0};
    int rc = get_usd(o, "credits", &k.granted);
    json_t *v;
    if (rc < 0) {
        json_decref(o);
        return respond_simple_error(r, 400, "invalid_value", "credits", "'credits' must be a dollar amount.");
    }
    if ((v = json_object_get(o, "rpm")) && json_is_integer(v)) k.rpm = (int)json_integer_value(v);
    if ((v = json_object_get(o, "concurrency")) && json_is_integer(v))
        k.concurrency = (int)json_integer_value(v);
    if ((v = json_object_get(o, "models")) && json_is_string(v))
        snprintf(k.models, sizeof k.models, "%s", json_string_value(v));
    json_decref(o);
    if (k.rpm < 0 || k.concurrency < 0)
        return respond_simple_error(r, 400, "invalid_value", NULL, "Limits must not be negative.");
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

enum MHD_Result h_admin_key_show(req_t *r) {
    if (admin_check(r)) return MHD_YES;
    store_key_t k;
    int rc = store_key_get(r->srv->store, r->param, &k);
    if (rc == IMG_ENOTFOUND) return respond_simple_error(r, 404, "key_not_found", NULL, "No such key.");
    if (rc) return respond_simple_error(r, 500, "internal_error", NULL, "The store is unavailable.");
    json_t *j = key_json(&k);
    int64_t reqs = 0, imgs = 0;
    store_usage_count(r->srv->store, k.id, &reqs, &imgs);
    json_object_set_new(j, "usage", json_pack("{s:I, s:I}", "requests", (json_int_t)reqs, "images",
                                              (json_int_t)imgs));
    return send_json(r, 200, j);
}

enum MHD_Result h_admin_key_revoke(req_t *r) {
    if (admin_check(r)) return MHD_YES;
    int rc = store_key_revoke(r->srv->store, r->param);
    if (rc == IMG_ENOTFOUND) return respond_simple_error(r, 404, "key_not_found", NULL, "No such key.");
    if (rc) return respond_simple_error(r, 500, "internal_error", NULL, "The store is unavailable.");
    return send_json(r, 200, json_pack("{s:s, s:b}", "id", r->param, "revoked", 1));
}

enum MHD_Result h_admin_key_credits(req_t *r) {
    if (admin_check(r)) return MHD_YES;
    json_t *o = body_object(r);
    int64_t micro = 0;
    int rc = o ? get_usd(o, "usd", &micro) : -1;
    json_decref(o);
    if (rc != 0)
        return respond_simple_error(r, 400, "invalid_value", "usd",
                                    "'usd' must be a non-negative dollar amount.");
    rc = store_credits_grant(r->srv->store, r->param, micro);
    if (rc == IMG_ENOTFOUND) return respond_simple_error(r, 404, "key_not_found", NULL, "No such key.");
    if (rc) return respond_simple_error(r, 500, "internal_error", NULL, "The store is unavailable.");
    store_key_t k;
    if (store_key_get(r->srv->store, r->param, &k))
        return respond_simple_error(r, 500, "internal_error", NULL, "The store is unavailable.");
    return send_json(r, 200, key_json(&k));
}
