/* store_pg_requests.c - asynchronous requests (SPEC §10) in the PostgreSQL store.
 *
 * The same rules as the SQLite backend (a request's row and its reservation change together,
 * so its status says what happened to the money), with row locks where several gateways may
 * act on one request: starting takes it only from QUEUED (one winner), cancelling locks it. */
#include "common/status.h"
#include "store/pg_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AREQ_HEAD                                                                                  \
    "id, key_id, model, route, seed, cost, status, created, ttl, expires, inference_time,"         \
    " error_code, error_message, webhook_url, "
#define AREQ_COLS AREQ_HEAD "body, output"
#define AREQ_COLS_LIGHT AREQ_HEAD "NULL, NULL" /* status polls never read the image payload */

static int read_areq(const PGresult *r, int row, int payload, store_areq_t *a) {
    memset(a, 0, sizeof *a);
    pg_text(r, row, 0, a->id, sizeof a->id);
    pg_text(r, row, 1, a->key_id, sizeof a->key_id);
    pg_text(r, row, 2, a->model, sizeof a->model);
    pg_text(r, row, 3, a->route, sizeof a->route);
    a->seed = (uint32_t)pg_int(r, row, 4);
    a->cost = pg_int(r, row, 5);
    a->status = (int)pg_int(r, row, 6);
    a->created = pg_int(r, row, 7);
    a->ttl = pg_int(r, row, 8);
    a->expires = pg_int(r, row, 9);
    a->inference_time = strtod(PQgetvalue(r, row, 10), NULL);
    pg_text(r, row, 11, a->error_code, sizeof a->error_code);
    pg_text(r, row, 12, a->error_message, sizeof a->error_message);
    pg_text(r, row, 13, a->webhook_url, sizeof a->webhook_url);
    if (!payload) return IMG_OK;
    int oom = 0;
    a->body = pg_dup(r, row, 14, &oom);
    a->output = pg_dup(r, row, 15, &oom);
    if (oom) {
        store_areq_clear(a);
        return IMG_ENOMEM;
    }
    return IMG_OK;
}

int pg_areq_insert(void *impl, const store_areq_t *a) {
    pg_conn_t c;
    if (pg_get(impl, &c)) return IMG_ESTORE;
    char seed[24], cost[24], created[24], ttl[24], exp[24];
    const char *vals[] = {a->id,
                          a->key_id,
                          a->model,
                          a->route,
                          a->body ? a->body : "",
                          pg_i64(seed, a->seed),
                          pg_i64(cost, a->cost),
                          pg_i64(created, a->created),
                          pg_i64(ttl, a->ttl),
                          pg_i64(exp, a->created + a->ttl),
                          a->webhook_url};
    int rc = pg_cmd(&c,
                    "INSERT INTO requests(id, key_id, model, route, body, seed, cost, status,"
                    " created, ttl, expires, webhook_url)"
                    " VALUES($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11)",
                    11, vals, NULL);
    pg_put(&c);
    return rc;
}

int pg_areq_get(void *impl, const char *id, int64_t now, int payload, store_areq_t *out) {
    pg_conn_t c;
    if (pg_get(impl, &c)) return IMG_ESTORE;
    char nb[24];
    const char *vals[] = {id, pg_i64(nb, now)};
    PGresult *r = pg_query(&c,
                           payload ? "SELECT " AREQ_COLS " FROM requests WHERE id = $1"
                                     " AND (expires > $2 OR status = 1)"
                                   : "SELECT " AREQ_COLS_LIGHT " FROM requests WHERE id = $1"
                                     " AND (expires > $2 OR status = 1)",
                           2, vals);
    pg_put(&c);
    int rc = !r ? IMG_ESTORE : PQntuples(r) ? read_areq(r, 0, payload, out) : IMG_ENOTFOUND;
    PQclear(r);
    return rc;
}

int pg_areq_queued(void *impl, store_areq_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    pg_conn_t c;
    if (pg_get(impl, &c)) return IMG_ESTORE;
    PGresult *r = pg_query(
        &c, "SELECT " AREQ_COLS " FROM requests WHERE status = 0 ORDER BY created, seq", 0, NULL);
    pg_put(&c);
    if (!r) return IMG_ESTORE;
    int rows = PQntuples(r), rc = IMG_OK;
    *out = calloc(rows ? (size_t)rows : 1, sizeof **out); /* owned by the caller */
    if (!*out) rc = IMG_ENOMEM;
    for (int i = 0; i < rows && rc == IMG_OK; i++) {
        rc = read_areq(r, i, 1, &(*out)[i]);
        if (rc == IMG_OK) *n = (size_t)i + 1;
    }
    PQclear(r);
    if (rc) {
        for (size_t i = 0; i < *n; i++)
            store_areq_clear(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int pg_areq_start(void *impl, const char *id) {
    pg_t *p = impl;
    pg_conn_t c;
    if (pg_get(p, &c)) return IMG_ESTORE;
    const char *vals[] = {id, p->instance};
    long n = 0;
    /* one winner when several gateways resume the same queued request */
    int rc = pg_cmd(&c, "UPDATE requests SET status = 1, owner = $2 WHERE id = $1 AND status = 0",
                    2, vals, &n);
    pg_put(&c);
    return rc ? rc : n ? IMG_OK : IMG_ENOTFOUND;
}

/* Inside a transaction: queues the delivery of a finished request when it has a webhook URL. */
static int hook_enqueue_tx(pg_conn_t *c, const char *request_id, const char *hook_body,
                           int64_t now) {
    char nb[24];
    const char *vals[] = {request_id, hook_body, pg_i64(nb, now)};
    return pg_cmd(c,
                  "INSERT INTO webhooks(request_id, key_id, url, body, next_at, created)"
                  " SELECT id, key_id, webhook_url, $2, $3::bigint, $3::bigint FROM requests"
                  " WHERE id = $1 AND webhook_url != ''",
                  3, vals, NULL);
}

int pg_areq_complete(void *impl, const char *id, const store_usage_t *u, const char *output,
                     double seconds, int64_t now, const char *hook_body) {
    pg_conn_t c;
    char key_id[64];
    if (pg_begin(impl, &c)) return IMG_ESTORE;
    int rc = pg_charge_tx(&c, id, u, key_id); /* IMG_ENOTFOUND: swept after expiry */
    if (!rc) {
        char sb[32], nb[24];
        const char *vals[] = {output, pg_f64(sb, seconds), pg_i64(nb, now), id};
        long n = 0;
        rc = pg_cmd(&c,
                    "UPDATE requests SET status = 2, output = $1, inference_time = $2,"
                    " expires = $3 + ttl WHERE id = $4 AND status IN (0, 1)",
                    4, vals, &n);
        if (!rc && n == 0) rc = IMG_ENOTFOUND;
    }
    if (!rc && hook_body) rc = hook_enqueue_tx(&c, id, hook_body, now);
    return pg_end(&c, rc);
}

/* Inside a transaction: releases what the request holds and marks it FAILED; an expired request
 * keeps its expiry, others are readable for another ttl. */
static int fail_tx(pg_conn_t *c, const char *id, const char *code, const char *message,
                   double seconds, int64_t now) {
    int rc = pg_release_tx(c, id);
    if (rc == IMG_ENOTFOUND) rc = IMG_OK; /* nothing was held (already settled) */
    if (rc) return rc;
    char sb[32], nb[24];
    const char *vals[] = {code, message, pg_f64(sb, seconds), pg_i64(nb, now), id};
    long n = 0;
    rc = pg_cmd(c,
                "UPDATE requests SET status = 3, error_code = $1, error_message = $2,"
                " inference_time = $3, expires = CASE WHEN expires <= $4 THEN expires"
                " ELSE $4 + ttl END WHERE id = $5 AND status IN (0, 1)",
                5, vals, &n);
    return rc ? rc : n ? IMG_OK : IMG_ENOTFOUND;
}

int pg_areq_fail(void *impl, const char *id, const char *code, const char *message, double seconds,
                 int64_t now, const char *hook_body) {
    pg_conn_t c;
    if (pg_begin(impl, &c)) return IMG_ESTORE;
    int rc = fail_tx(&c, id, code, message, seconds, now);
    if (!rc && hook_body) rc = hook_enqueue_tx(&c, id, hook_body, now);
    return pg_end(&c, rc);
}

int pg_areq_cancel(void *impl, const char *id, const char *key_id, int64_t now) {
    pg_conn_t c;
    if (pg_begin(impl, &c)) return IMG_ESTORE;
    char nb[24];
    const char *vals[] = {id, key_id, pg_i64(nb, now)};
    PGresult *r = pg_query(&c,
                           "SELECT status FROM requests WHERE id = $1 AND key_id = $2"
                           " AND (expires > $3 OR status = 1) FOR UPDATE",
                           3, vals);
    int rc = !r                               ? IMG_ESTORE
             : !PQntuples(r)                  ? IMG_ENOTFOUND
             : pg_int(r, 0, 0) == AREQ_QUEUED ? IMG_OK
                                              : IMG_EBUSY;
    PQclear(r);
    if (rc == IMG_OK)
        rc = fail_tx(&c, id, "request_cancelled", "The request was cancelled before it started.", 0,
                     now);
    /* ENOTFOUND/EBUSY are answers: nothing to roll back */
    int end = pg_end(&c, rc == IMG_ENOTFOUND || rc == IMG_EBUSY ? IMG_OK : rc);
    return end ? end : rc;
}

int pg_areq_sweep(void *impl, int64_t now, int *count) {
    *count = 0;
    pg_conn_t c;
    if (pg_begin(impl, &c)) return IMG_ESTORE;
    char nb[24];
    const char *vals[] = {pg_i64(nb, now)};
    /* what an expired request still holds goes back to its key (rows another gateway is
     * sweeping right now are skipped: it settles them) */
    PGresult *r = pg_query(&c,
                           "SELECT id FROM requests WHERE expires <= $1 AND status != 1 AND id IN"
                           " (SELECT job_id FROM reservations) LIMIT 64 FOR UPDATE SKIP LOCKED",
                           1, vals);
    int rc = r ? IMG_OK : IMG_ESTORE;
    for (int i = 0; r && i < PQntuples(r) && rc == IMG_OK; i++) {
        rc = pg_release_tx(&c, PQgetvalue(r, i, 0));
        if (rc == IMG_ENOTFOUND) rc = IMG_OK;
    }
    PQclear(r);
    long n = 0;
    if (!rc)
        rc = pg_cmd(&c,
                    "DELETE FROM requests WHERE expires <= $1 AND status != 1 AND id NOT IN"
                    " (SELECT job_id FROM reservations)",
                    1, vals, &n);
    if (!rc) *count = (int)n;
    return pg_end(&c, rc);
}
