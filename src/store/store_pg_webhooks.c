/* store_pg_webhooks.c - webhook registrations (per key) and deliveries in the PostgreSQL store.
 *
 * Deliveries are queued in the transaction that settles their request (store_pg_requests.c).
 * With several gateways each sender may pick the same due delivery: delivery is at least once,
 * as webhook receivers already expect (the payload carries the request id to deduplicate). */
#include "common/status.h"
#include "store/pg_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inside a transaction: IMG_OK when the key exists, IMG_ENOTFOUND when not. */
static int key_exists_tx(pg_conn_t *c, const char *key_id) {
    const char *vals[] = {key_id};
    PGresult *r = pg_query(c, "SELECT 1 FROM keys WHERE id = $1", 1, vals);
    int rc = !r ? IMG_ESTORE : PQntuples(r) ? IMG_OK : IMG_ENOTFOUND;
    PQclear(r);
    return rc;
}

int pg_hook_key_get(void *impl, const char *key_id, const char *candidate, char *url,
                    size_t url_len, char *secret) {
    pg_conn_t c;
    if (pg_begin(impl, &c)) return IMG_ESTORE;
    int rc = key_exists_tx(&c, key_id);
    const char *vals[] = {key_id, candidate};
    if (!rc)
        rc = pg_cmd(&c,
                    "INSERT INTO key_webhooks(key_id, secret) VALUES($1, $2)"
                    " ON CONFLICT (key_id) DO NOTHING",
                    2, vals, NULL);
    if (!rc) {
        PGresult *r =
            pg_query(&c, "SELECT url, secret FROM key_webhooks WHERE key_id = $1", 1, vals);
        rc = r && PQntuples(r) == 1 ? IMG_OK : IMG_ESTORE;
        if (!rc) {
            pg_text(r, 0, 0, url, url_len);
            pg_text(r, 0, 1, secret, STORE_HOOK_SECRET_LEN + 1);
        }
        PQclear(r);
    }
    int end = pg_end(&c, rc == IMG_ENOTFOUND ? IMG_OK : rc);
    return end ? end : rc;
}

int pg_hook_key_set(void *impl, const char *key_id, const char *url, const char *secret,
                    int rotate) {
    pg_conn_t c;
    if (pg_begin(impl, &c)) return IMG_ESTORE;
    int rc = key_exists_tx(&c, key_id);
    const char *vals[] = {key_id, url, secret, rotate ? "1" : "0"};
    if (!rc)
        rc = pg_cmd(&c,
                    "INSERT INTO key_webhooks(key_id, url, secret) VALUES($1, coalesce($2, ''), $3)"
                    " ON CONFLICT (key_id) DO UPDATE SET url = coalesce($2, key_webhooks.url),"
                    " secret = CASE WHEN $4::int = 1 THEN $3 ELSE key_webhooks.secret END",
                    4, vals, NULL);
    int end = pg_end(&c, rc == IMG_ENOTFOUND ? IMG_OK : rc);
    return end ? end : rc;
}

#define HOOK_COLS                                                                                  \
    "id, request_id, key_id, url, attempts, status, last_http, last_error, next_at, created"

/* Reads the rows of a HOOK_COLS query (+ body as column 10 when with_body) into a malloc'd
 * array; PQclear's r. */
static int read_hooks(PGresult *r, int with_body, store_hook_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!r) return IMG_ESTORE;
    int rows = PQntuples(r), rc = IMG_OK;
    *out = calloc(rows ? (size_t)rows : 1, sizeof **out); /* owned by the caller */
    if (!*out) rc = IMG_ENOMEM;
    for (int i = 0; i < rows && rc == IMG_OK; i++) {
        store_hook_t *h = &(*out)[i];
        h->id = pg_int(r, i, 0);
        pg_text(r, i, 1, h->request_id, sizeof h->request_id);
        pg_text(r, i, 2, h->key_id, sizeof h->key_id);
        pg_text(r, i, 3, h->url, sizeof h->url);
        h->attempts = (int)pg_int(r, i, 4);
        h->status = (int)pg_int(r, i, 5);
        h->last_http = (int)pg_int(r, i, 6);
        pg_text(r, i, 7, h->last_error, sizeof h->last_error);
        h->next_at = strtod(PQgetvalue(r, i, 8), NULL);
        h->created = pg_int(r, i, 9);
        *n = (size_t)i + 1;
        int oom = 0;
        if (with_body && (h->body = pg_dup(r, i, 10, &oom), oom)) rc = IMG_ENOMEM;
    }
    PQclear(r);
    if (rc) {
        store_hook_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int pg_hook_due(void *impl, double now, int limit, store_hook_t **out, size_t *n) {
    pg_conn_t c;
    if (pg_get(impl, &c)) return IMG_ESTORE;
    char nb[32], lb[24];
    const char *vals[] = {pg_f64(nb, now), pg_i64(lb, limit)};
    PGresult *r = pg_query(&c,
                           "SELECT " HOOK_COLS ", body FROM webhooks WHERE status = 0"
                           " AND next_at <= $1 ORDER BY next_at, id LIMIT $2",
                           2, vals);
    pg_put(&c);
    return read_hooks(r, 1, out, n);
}

int pg_hook_result(void *impl, int64_t id, int delivered, int http, const char *error,
                   double next_at) {
    pg_conn_t c;
    if (pg_get(impl, &c)) return IMG_ESTORE;
    char sb[24], hb[24], nb[32], ib[24];
    const char *vals[] = {pg_i64(sb, delivered     ? HOOK_DELIVERED
                                     : next_at < 0 ? HOOK_GAVE_UP
                                                   : HOOK_PENDING),
                          pg_i64(hb, http), error ? error : "",
                          pg_f64(nb, next_at < 0 ? 0 : next_at), pg_i64(ib, id)};
    long n = 0;
    int rc = pg_cmd(&c,
                    "UPDATE webhooks SET attempts = attempts + 1, status = $1, last_http = $2,"
                    " last_error = $3, next_at = $4 WHERE id = $5 AND status = 0",
                    5, vals, &n);
    pg_put(&c);
    return rc ? rc : n ? IMG_OK : IMG_ENOTFOUND;
}

int pg_hook_list(void *impl, const char *key_id, store_hook_t **out, size_t *n) {
    pg_conn_t c;
    if (pg_get(impl, &c)) return IMG_ESTORE;
    const char *vals[] = {key_id};
    PGresult *r = pg_query(&c,
                           "SELECT " HOOK_COLS " FROM webhooks WHERE $1::text IS NULL"
                           " OR key_id = $1 ORDER BY id DESC",
                           1, vals);
    pg_put(&c);
    return read_hooks(r, 0, out, n);
}
