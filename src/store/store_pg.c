/* store_pg.c - the PostgreSQL store backend (libpq): keys, the ledger, usage, idempotency.
 *
 * For several gateways and workers on one database. Every ledger change is one transaction in
 * which the row updates themselves check the balance (UPDATE ... WHERE balance >= amount) and
 * reservations are taken with DELETE ... RETURNING, so concurrent processes can neither
 * overdraw a key nor settle a reservation twice; granted = balance + reserved + charged holds
 * after every commit. */
#include "common/clock.h"
#include "common/crypto.h"
#include "common/status.h"
#include "store/pg_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pg_ping(void *impl) {
    pg_conn_t c;
    if (pg_get(impl, &c)) return IMG_ESTORE;
    PGresult *r = pg_query(&c, "SELECT 1", 0, NULL);
    PQclear(r);
    pg_put(&c);
    return r ? IMG_OK : IMG_ESTORE;
}

/* Closes the pool's connections and frees p (the heartbeat has stopped). */
static void pg_free(pg_t *p) {
    for (int i = 0; i < PG_POOL_MAX; i++)
        if (p->conns[i]) PQfinish(p->conns[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->beat_cv);
    free(p);
}

static void pg_close(void *impl) {
    pg_t *p = impl;
    pg_shutdown(p);
    pg_conn_t c;
    /* a clean stop: others need not wait for our heartbeat to time out */
    if (pg_get(p, &c) == IMG_OK) {
        const char *vals[] = {p->instance};
        pg_cmd(&c, "DELETE FROM instances WHERE id = $1", 1, vals, NULL);
        pg_put(&c);
    }
    pg_free(p);
}

static int pg_key_insert(void *impl, const store_key_t *k, const uint8_t hash[32]) {
    pg_conn_t c;
    if (pg_begin(impl, &c)) return IMG_ESTORE;
    char hex[65], g[24], rpm[24], conc[24], now[24];
    crypto_hex(hash, 32, hex);
    const char *vals[] = {k->id,
                          hex,
                          pg_i64(g, k->granted),
                          pg_i64(rpm, k->rpm),
                          pg_i64(conc, k->concurrency),
                          k->models,
                          pg_i64(now, clock_wall())};
    int rc =
        pg_cmd(&c,
               "INSERT INTO keys(id, hash, granted, balance, rpm, concurrency, models, created)"
               " VALUES($1, $2, $3, $3, $4, $5, $6, $7)",
               7, vals, NULL);
    if (!rc && k->granted > 0) {
        const char *gv[] = {k->id, g, now};
        rc = pg_cmd(&c, "INSERT INTO grants(key_id, amount, ts) VALUES($1, $2, $3)", 3, gv, NULL);
    }
    return pg_end(&c, rc);
}

#define KEY_COLS                                                                                   \
    "id, granted, balance, reserved, charged, rpm, concurrency, models, revoked, created, hash"

static void read_key(const PGresult *r, int row, store_key_t *k, uint8_t *hash) {
    memset(k, 0, sizeof *k);
    pg_text(r, row, 0, k->id, sizeof k->id);
    k->granted = pg_int(r, row, 1);
    k->balance = pg_int(r, row, 2);
    k->reserved = pg_int(r, row, 3);
    k->charged = pg_int(r, row, 4);
    k->rpm = (int)pg_int(r, row, 5);
    k->concurrency = (int)pg_int(r, row, 6);
    pg_text(r, row, 7, k->models, sizeof k->models);
    k->revoked = (int)pg_int(r, row, 8);
    k->created = pg_int(r, row, 9);
    const char *h = PQgetvalue(r, row, 10);
    if (hash && strlen(h) == 64)
        for (int i = 0; i < 32; i++) {
            unsigned v = 0;
            sscanf(h + 2 * i, "%2x", &v);
            hash[i] = (uint8_t)v;
        }
}

static int pg_key_get(void *impl, const char *id, store_key_t *out, uint8_t hash[32]) {
    pg_conn_t c;
    if (pg_get(impl, &c)) return IMG_ESTORE;
    const char *vals[] = {id};
    PGresult *r = pg_query(&c, "SELECT " KEY_COLS " FROM keys WHERE id = $1", 1, vals);
    int rc = !r ? IMG_ESTORE : PQntuples(r) ? IMG_OK : IMG_ENOTFOUND;
    if (rc == IMG_OK) read_key(r, 0, out, hash);
    PQclear(r);
    pg_put(&c);
    return rc;
}

static int pg_key_list(void *impl, store_key_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    pg_conn_t c;
    if (pg_get(impl, &c)) return IMG_ESTORE;
    PGresult *r = pg_query(&c, "SELECT " KEY_COLS " FROM keys ORDER BY created, id", 0, NULL);
    pg_put(&c);
    if (!r) return IMG_ESTORE;
    int rows = PQntuples(r);
    *out = calloc(rows ? (size_t)rows : 1, sizeof **out); /* owned by the caller */
    if (!*out) {
        PQclear(r);
        return IMG_ENOMEM;
    }
    for (int i = 0; i < rows; i++)
        read_key(r, i, &(*out)[i], NULL);
    *n = (size_t)rows;
    PQclear(r);
    return IMG_OK;
}

/* One statement in its own transaction; IMG_ENOTFOUND when it touched no row. */
static int one_change(pg_t *p, const char *sql, int n, const char *const *vals) {
    pg_conn_t c;
    if (pg_get(p, &c)) return IMG_ESTORE;
    long changed = 0;
    int rc = pg_cmd(&c, sql, n, vals, &changed);
    pg_put(&c);
    return rc ? rc : changed ? IMG_OK : IMG_ENOTFOUND;
}

static int pg_key_revoke(void *impl, const char *id) {
    const char *vals[] = {id};
    return one_change(impl, "UPDATE keys SET revoked = 1 WHERE id = $1", 1, vals);
}

static int pg_grant(void *impl, const char *id, int64_t micro) {
    pg_conn_t c;
    if (pg_begin(impl, &c)) return IMG_ESTORE;
    char m[24], now[24], max[24];
    const char *vals[] = {pg_i64(m, micro), id, pg_i64(now, clock_wall()),
                          pg_i64(max, STORE_MAX_GRANTED_MICRO)};
    const char *bound[] = {vals[0], vals[1], vals[3]};
    long n = 0;
    /* the bound is tested as granted <= MAX - micro so that the check itself cannot overflow */
    int rc = pg_cmd(&c,
                    "UPDATE keys SET granted = granted + $1, balance = balance + $1"
                    " WHERE id = $2 AND granted <= $3::bigint - $1::bigint",
                    3, bound, &n);
    if (!rc && n == 0) { /* no such key, or the grant would pass the bound */
        long exists = 0;
        const char *key_only[] = {id};
        rc = pg_cmd(&c, "UPDATE keys SET granted = granted WHERE id = $1", 1, key_only, &exists);
        if (!rc) rc = exists ? IMG_ERANGE : IMG_ENOTFOUND;
    }
    if (!rc)
        rc = pg_cmd(&c, "INSERT INTO grants(key_id, amount, ts) VALUES($2, $1, $3)", 3, vals, NULL);
    return pg_end(&c, rc);
}

static int pg_reserve(void *impl, const char *key_id, const char *job_id, int64_t micro) {
    pg_t *p = impl;
    pg_conn_t c;
    if (pg_begin(p, &c)) return IMG_ESTORE;
    char m[24], now[24];
    const char *vals[] = {pg_i64(m, micro), key_id, job_id, pg_i64(now, clock_wall()), p->instance};
    long n = 0;
    int rc = pg_cmd(&c,
                    "UPDATE keys SET balance = balance - $1, reserved = reserved + $1"
                    " WHERE id = $2 AND balance >= $1",
                    2, vals, &n);
    if (!rc && n == 0) rc = IMG_ECREDITS;
    if (!rc)
        rc = pg_cmd(&c,
                    "INSERT INTO reservations(job_id, key_id, amount, created, owner)"
                    " VALUES($3, $2, $1, $4, $5)",
                    5, vals, NULL);
    return pg_end(&c, rc);
}

/* Inside a transaction: deletes the job's reservation, returning its key and amount. */
static int take_reservation(pg_conn_t *c, const char *job_id, char key_id[64], int64_t *amount) {
    const char *vals[] = {job_id};
    PGresult *r =
        pg_query(c, "DELETE FROM reservations WHERE job_id = $1 RETURNING key_id, amount", 1, vals);
    if (!r) return IMG_ESTORE;
    int rc = PQntuples(r) ? IMG_OK : IMG_ENOTFOUND;
    if (rc == IMG_OK) {
        pg_text(r, 0, 0, key_id, 64);
        *amount = pg_int(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

int pg_charge_tx(pg_conn_t *c, const char *job_id, const store_usage_t *u, char key_id[64]) {
    char a[24], now[24], n[24];
    int64_t amount = 0;
    int rc = take_reservation(c, job_id, key_id, &amount);
    if (rc) return rc;
    const char *vals[] = {pg_i64(a, amount), key_id};
    rc = pg_cmd(c, "UPDATE keys SET reserved = reserved - $1, charged = charged + $1 WHERE id = $2",
                2, vals, NULL);
    if (!rc && u) {
        const char *uv[] = {key_id,   u->request_id,   pg_i64(now, clock_wall()),
                            u->route, u->model,        u->quality,
                            u->size,  pg_i64(n, u->n), a};
        rc = pg_cmd(c,
                    "INSERT INTO usage(key_id, request_id, ts, route, model, quality, size, n,"
                    " cost) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    9, uv, NULL);
    }
    return rc;
}

static int pg_charge(void *impl, const char *job_id, const store_usage_t *u, const char *idem_key,
                     int idem_status, const char *idem_body) {
    pg_conn_t c;
    char key_id[64];
    if (pg_begin(impl, &c)) return IMG_ESTORE;
    int rc = pg_charge_tx(&c, job_id, u, key_id);
    if (!rc && idem_key) {
        char st[24];
        const char *vals[] = {pg_i64(st, idem_status), idem_body, key_id, idem_key};
        rc = pg_cmd(&c,
                    "UPDATE idempotency SET status = $1, body = $2 WHERE key_id = $3"
                    " AND idem_key = $4",
                    4, vals, NULL);
    }
    return pg_end(&c, rc);
}

int pg_release_tx(pg_conn_t *c, const char *job_id) {
    char key_id[64], a[24];
    int64_t amount = 0;
    int rc = take_reservation(c, job_id, key_id, &amount);
    if (rc) return rc;
    const char *vals[] = {pg_i64(a, amount), key_id};
    return pg_cmd(c,
                  "UPDATE keys SET reserved = reserved - $1, balance = balance + $1 WHERE id = $2",
                  2, vals, NULL);
}

static int pg_release(void *impl, const char *job_id) {
    pg_conn_t c;
    if (pg_begin(impl, &c)) return IMG_ESTORE;
    return pg_end(&c, pg_release_tx(&c, job_id));
}

/* Unlike SQLite's single process, a starting process must not take what live ones hold: only
 * dead instances' holdings are released (and the heartbeat keeps doing so while it runs). */
static int pg_release_orphans(void *impl, int *count) {
    return pg_release_dead(impl, count);
}

static int pg_idem_begin(void *impl, const char *key_id, const char *idem_key, const char *hash,
                         int64_t now, int64_t ttl, store_idem_t *existing) {
    pg_t *p = impl;
    memset(existing, 0, sizeof *existing);
    pg_conn_t c;
    if (pg_begin(p, &c)) return IMG_ESTORE;
    char nb[24], eb[24];
    const char *vals[] = {key_id,     idem_key, hash, pg_i64(nb, now), pg_i64(eb, now + ttl),
                          p->instance};
    const char *dv[] = {key_id, idem_key, nb};
    int rc = pg_cmd(&c,
                    "DELETE FROM idempotency WHERE key_id = $1 AND idem_key = $2"
                    " AND expires <= $3::bigint",
                    3, dv, NULL);
    long inserted = 0;
    /* whoever inserts first runs the request; everyone else reads that record */
    if (!rc)
        rc = pg_cmd(&c,
                    "INSERT INTO idempotency(key_id, idem_key, body_hash, created, expires, owner)"
                    " VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    6, vals, &inserted);
    if (!rc && !inserted) {
        PGresult *r = pg_query(&c,
                               "SELECT body_hash, status, body FROM idempotency WHERE key_id = $1"
                               " AND idem_key = $2",
                               2, vals);
        if (!r || PQntuples(r) != 1) {
            rc = IMG_ESTORE;
        } else {
            int oom = 0;
            pg_text(r, 0, 0, existing->body_hash, sizeof existing->body_hash);
            existing->status = (int)pg_int(r, 0, 1);
            existing->body = pg_dup(r, 0, 2, &oom);
            rc = oom                                      ? IMG_ENOMEM
                 : strcmp(existing->body_hash, hash) == 0 ? IMG_EEXIST
                                                          : IMG_EINVAL;
        }
        PQclear(r);
    }
    if (!rc) {
        /* an occasional sweep of every key's expired records */
        rc = pg_cmd(&c, "DELETE FROM idempotency WHERE expires <= $1::bigint", 1, vals + 3, NULL);
    }
    int end = pg_end(&c, rc == IMG_EEXIST || rc == IMG_EINVAL ? IMG_OK : rc);
    return end ? end : rc;
}

static int pg_idem_finish(void *impl, const char *key_id, const char *idem_key, int status,
                          const char *body) {
    char st[24];
    const char *vals[] = {pg_i64(st, status), body, key_id, idem_key};
    int rc = one_change(impl,
                        "UPDATE idempotency SET status = $1, body = $2 WHERE key_id = $3"
                        " AND idem_key = $4",
                        4, vals);
    return rc == IMG_ENOTFOUND ? IMG_OK : rc;
}

static int pg_idem_abandon(void *impl, const char *key_id, const char *idem_key) {
    const char *vals[] = {key_id, idem_key};
    int rc = one_change(
        impl, "DELETE FROM idempotency WHERE key_id = $1 AND idem_key = $2 AND status = 0", 2,
        vals);
    return rc == IMG_ENOTFOUND ? IMG_OK : rc;
}

static int pg_usage_count(void *impl, const char *key_id, int64_t *requests, int64_t *images) {
    pg_conn_t c;
    if (pg_get(impl, &c)) return IMG_ESTORE;
    const char *vals[] = {key_id};
    PGresult *r =
        pg_query(&c, "SELECT count(*), coalesce(sum(n), 0) FROM usage WHERE key_id = $1", 1, vals);
    pg_put(&c);
    if (!r) return IMG_ESTORE;
    *requests = pg_int(r, 0, 0);
    *images = pg_int(r, 0, 1);
    PQclear(r);
    return IMG_OK;
}

static int pg_limits_take(void *impl, const char *key_id, int rpm, int concurrency,
                          double *retry_after, int *over_concurrency) {
    pg_conn_t c;
    if (pg_get(impl, &c)) return IMG_ESTORE;
    char rb[24], cb[24];
    const char *vals[] = {key_id, pg_i64(rb, rpm), pg_i64(cb, concurrency)};
    const char *cv[] = {key_id, cb};
    PGresult *r =
        pg_query(&c, "SELECT count(*) >= $2::int FROM reservations WHERE key_id = $1", 2, cv);
    int rc = r && PQntuples(r) == 1 ? IMG_OK : IMG_ESTORE;
    if (!rc && PQgetvalue(r, 0, 0)[0] == 't') {
        *over_concurrency = 1;
        *retry_after = 1;
        rc = IMG_EBUSY;
    }
    PQclear(r);
    if (!rc) {
        /* counted only while under the limit: refusals do not use the window up */
        r = pg_query(&c,
                     "INSERT INTO rate_windows(key_id, minute, count)"
                     " VALUES($1, floor(extract(epoch from now()) / 60)::bigint, 1)"
                     " ON CONFLICT (key_id, minute) DO UPDATE SET count = rate_windows.count + 1"
                     " WHERE rate_windows.count < $2::int RETURNING count, minute",
                     2, vals);
        if (!r) {
            rc = IMG_ESTORE;
        } else if (PQntuples(r) == 0) {
            PQclear(r);
            r = pg_query(&c, "SELECT 60 - mod(extract(epoch from now()), 60)", 0, NULL);
            *retry_after = r && PQntuples(r) ? strtod(PQgetvalue(r, 0, 0), NULL) : 60;
            rc = IMG_EBUSY;
        } else if (pg_int(r, 0, 0) == 1) {
            /* the key's first request of a minute: its older windows go */
            const char *dv[] = {key_id, PQgetvalue(r, 0, 1)};
            pg_cmd(&c, "DELETE FROM rate_windows WHERE key_id = $1 AND minute < $2::bigint", 2, dv,
                   NULL);
        }
        PQclear(r);
    }
    pg_put(&c);
    return rc;
}

static const store_ops_t PG_OPS = {
    .ping = pg_ping,
    .close = pg_close,
    .key_insert = pg_key_insert,
    .key_get = pg_key_get,
    .key_list = pg_key_list,
    .key_revoke = pg_key_revoke,
    .grant = pg_grant,
    .reserve = pg_reserve,
    .charge = pg_charge,
    .release = pg_release,
    .release_orphans = pg_release_orphans,
    .idem_begin = pg_idem_begin,
    .idem_finish = pg_idem_finish,
    .idem_abandon = pg_idem_abandon,
    .usage_count = pg_usage_count,
    .areq_insert = pg_areq_insert,
    .areq_get = pg_areq_get,
    .areq_queued = pg_areq_queued,
    .areq_start = pg_areq_start,
    .areq_complete = pg_areq_complete,
    .areq_fail = pg_areq_fail,
    .areq_cancel = pg_areq_cancel,
    .areq_sweep = pg_areq_sweep,
    .hook_key_get = pg_hook_key_get,
    .hook_key_set = pg_hook_key_set,
    .hook_due = pg_hook_due,
    .hook_result = pg_hook_result,
    .hook_list = pg_hook_list,
    .limits_take = pg_limits_take,
};

int store_pg_open(const char *url, int busy_ms, const store_ops_t **ops, void **impl, char *err,
                  size_t errlen) {
    pg_t *p = calloc(1, sizeof *p); /* owned by the store until pg_close */
    if (!p) return IMG_ENOMEM;
    if (strlen(url) >= sizeof p->conninfo) {
        free(p);
        snprintf(err, errlen, "the PostgreSQL URL is too long");
        return IMG_EINVAL;
    }
    snprintf(p->conninfo, sizeof p->conninfo, "%s", url);
    p->busy_ms = busy_ms > 0 ? busy_ms : 5000;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->beat_cv, NULL);
    int rc = pg_setup(p, err, errlen);
    if (rc) {
        pg_shutdown(p);
        pg_free(p);
        return rc;
    }
    *ops = &PG_OPS;
    *impl = p;
    return IMG_OK;
}
