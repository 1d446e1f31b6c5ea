/* pg_conn.c - the PostgreSQL backend's plumbing: a small connection pool (reconnecting after
 * the server restarts), text-parameter statements, transactions, versioned schema migrations
 * and this instance's heartbeat. */
#include "common/crypto.h"
#include "common/pgconnect.h"
#include "common/status.h"
#include "store/pg_internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Each entry upgrades the schema from the version before it; applied in order, each once, in
 * one transaction under an advisory lock so that processes starting together do not race.
 * Append new versions; never edit a released one. */
static const char *const MIGRATIONS[] = {
    /* 1: keys, ledger, usage, idempotency, asynchronous requests, webhooks, instances */
    "CREATE TABLE keys(id TEXT PRIMARY KEY, hash TEXT NOT NULL, granted BIGINT NOT NULL,"
    " balance BIGINT NOT NULL, reserved BIGINT NOT NULL DEFAULT 0,"
    " charged BIGINT NOT NULL DEFAULT 0, rpm INTEGER NOT NULL DEFAULT 0,"
    " concurrency INTEGER NOT NULL DEFAULT 0, models TEXT NOT NULL DEFAULT '',"
    " revoked INTEGER NOT NULL DEFAULT 0, created BIGINT NOT NULL,"
    " CHECK (balance >= 0 AND reserved >= 0 AND charged >= 0));"
    "CREATE TABLE grants(id BIGSERIAL PRIMARY KEY, key_id TEXT NOT NULL, amount BIGINT NOT NULL,"
    " ts BIGINT NOT NULL);"
    "CREATE TABLE instances(id TEXT PRIMARY KEY, started BIGINT NOT NULL,"
    " heartbeat BIGINT NOT NULL);"
    "CREATE TABLE reservations(job_id TEXT PRIMARY KEY, key_id TEXT NOT NULL,"
    " amount BIGINT NOT NULL, created BIGINT NOT NULL, owner TEXT NOT NULL);"
    "CREATE INDEX reservations_owner ON reservations(owner);"
    "CREATE TABLE usage(id BIGSERIAL PRIMARY KEY, key_id TEXT NOT NULL, request_id TEXT,"
    " ts BIGINT NOT NULL, route TEXT, model TEXT, quality TEXT, size TEXT, n INTEGER,"
    " cost BIGINT NOT NULL);"
    "CREATE INDEX usage_key ON usage(key_id);"
    "CREATE TABLE idempotency(key_id TEXT NOT NULL, idem_key TEXT NOT NULL,"
    " body_hash TEXT NOT NULL, status INTEGER NOT NULL DEFAULT 0, body TEXT,"
    " created BIGINT NOT NULL, expires BIGINT NOT NULL, owner TEXT NOT NULL,"
    " PRIMARY KEY(key_id, idem_key));"
    "CREATE TABLE requests(id TEXT PRIMARY KEY, key_id TEXT NOT NULL, model TEXT NOT NULL,"
    " route TEXT NOT NULL, body TEXT NOT NULL, seed BIGINT NOT NULL, cost BIGINT NOT NULL,"
    " status INTEGER NOT NULL DEFAULT 0, created BIGINT NOT NULL, ttl BIGINT NOT NULL,"
    " expires BIGINT NOT NULL, inference_time DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " output TEXT, error_code TEXT, error_message TEXT, webhook_url TEXT NOT NULL DEFAULT '',"
    " owner TEXT NOT NULL DEFAULT '', seq BIGSERIAL);"
    "CREATE INDEX requests_status ON requests(status);"
    "CREATE INDEX requests_expires ON requests(expires);"
    "CREATE TABLE key_webhooks(key_id TEXT PRIMARY KEY, url TEXT NOT NULL DEFAULT '',"
    " secret TEXT NOT NULL);"
    "CREATE TABLE webhooks(id BIGSERIAL PRIMARY KEY, request_id TEXT NOT NULL,"
    " key_id TEXT NOT NULL, url TEXT NOT NULL, body TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, status INTEGER NOT NULL DEFAULT 0,"
    " last_http INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',"
    " next_at DOUBLE PRECISION NOT NULL, created BIGINT NOT NULL);"
    "CREATE INDEX webhooks_due ON webhooks(status, next_at);",
    /* 2: the job queue between gateways and workers (src/queue/pgqueue.c), per-key request
     * windows shared by gateways */
    "CREATE TABLE jobs(id TEXT PRIMARY KEY, seq BIGSERIAL, gateway TEXT NOT NULL,"
    " model TEXT NOT NULL, spec TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'queued',"
    " attempts INTEGER NOT NULL DEFAULT 0, worker TEXT NOT NULL DEFAULT '',"
    " lease_until DOUBLE PRECISION NOT NULL DEFAULT 0, cancel INTEGER NOT NULL DEFAULT 0,"
    " error INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',"
    " input_tokens INTEGER NOT NULL DEFAULT 0, created DOUBLE PRECISION NOT NULL,"
    " deadline DOUBLE PRECISION NOT NULL, finished DOUBLE PRECISION NOT NULL DEFAULT 0);"
    "CREATE INDEX jobs_status ON jobs(status, seq);"
    "CREATE TABLE job_images(job_id TEXT NOT NULL, idx INTEGER NOT NULL, seed BIGINT NOT NULL,"
    " data BYTEA NOT NULL, PRIMARY KEY(job_id, idx));"
    "CREATE TABLE workers(id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,"
    " models TEXT NOT NULL, loaded TEXT NOT NULL DEFAULT '', slots INTEGER NOT NULL,"
    " busy INTEGER NOT NULL DEFAULT 0, seen DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE rate_windows(key_id TEXT NOT NULL, minute BIGINT NOT NULL,"
    " count INTEGER NOT NULL, PRIMARY KEY(key_id, minute));",
    /* 3: a running job's progress and latest step preview (raw RGB), which its worker writes
     * and its gateway relays to streams */
    "ALTER TABLE jobs ADD COLUMN image INTEGER NOT NULL DEFAULT 0,"
    " ADD COLUMN step INTEGER NOT NULL DEFAULT 0, ADD COLUMN steps INTEGER NOT NULL DEFAULT 0,"
    " ADD COLUMN loading INTEGER NOT NULL DEFAULT -1, ADD COLUMN preview BYTEA,"
    " ADD COLUMN preview_step INTEGER NOT NULL DEFAULT 0,"
    " ADD COLUMN preview_w INTEGER NOT NULL DEFAULT 0,"
    " ADD COLUMN preview_h INTEGER NOT NULL DEFAULT 0;",
    /* 4: an edit's input image (raw pixels, its size and channels in the job's spec) and mask
     * (one byte a pixel, nonzero = repaint), which its gateway writes and its worker reads */
    "ALTER TABLE jobs ADD COLUMN input BYTEA, ADD COLUMN input_mask BYTEA;",
};
#define NMIGRATIONS ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))
#define MIGRATION_LOCK "7297111"                   /* pg_advisory_xact_lock key of the migrations */
#define DB_NOW "extract(epoch from now())::bigint" /* the database's clock: all instances agree */

static int connect_slot(pg_t *p, int i) {
    if (p->conns[i] && PQstatus(p->conns[i]) == CONNECTION_OK) return IMG_OK;
    if (p->conns[i]) PQfinish(p->conns[i]);
    p->conns[i] = pgc_open(p->conninfo, "imgapi"); /* owned by the pool, kept for its error */
    if (!p->conns[i] || PQstatus(p->conns[i]) != CONNECTION_OK) return IMG_ESTORE;
    char sql[96];
    snprintf(sql, sizeof sql, "SET lock_timeout = %d", p->busy_ms);
    PGresult *r = PQexec(p->conns[i], sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? IMG_OK : IMG_ESTORE;
}

int pg_get(pg_t *p, pg_conn_t *out) {
    pthread_mutex_lock(&p->mu);
    int slot = -1;
    while (slot < 0) {
        for (int i = 0; i < PG_POOL_MAX && slot < 0; i++)
            if (!p->busy[i]) slot = i;
        if (slot < 0) pthread_cond_wait(&p->cv, &p->mu);
    }
    p->busy[slot] = 1;
    pthread_mutex_unlock(&p->mu);
    /* connecting happens outside the pool lock: only this thread uses the slot now */
    if (connect_slot(p, slot)) {
        out->p = p;
        out->slot = slot;
        out->c = NULL;
        pg_put(out);
        return IMG_ESTORE;
    }
    out->p = p;
    out->slot = slot;
    out->c = p->conns[slot];
    return IMG_OK;
}

void pg_put(pg_conn_t *c) {
    pthread_mutex_lock(&c->p->mu);
    c->p->busy[c->slot] = 0;
    pthread_cond_signal(&c->p->cv);
    pthread_mutex_unlock(&c->p->mu);
}

PGresult *pg_query(pg_conn_t *c, const char *sql, int n, const char *const *vals) {
    PGresult *r = PQexecParams(c->c, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    PQclear(r);
    return NULL;
}

int pg_cmd(pg_conn_t *c, const char *sql, int n, const char *const *vals, long *changed) {
    PGresult *r = pg_query(c, sql, n, vals);
    if (!r) return IMG_ESTORE;
    if (changed) *changed = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return IMG_OK;
}

int pg_begin(pg_t *p, pg_conn_t *c) {
    if (pg_get(p, c)) return IMG_ESTORE;
    if (pg_cmd(c, "BEGIN", 0, NULL, NULL)) {
        pg_put(c);
        return IMG_ESTORE;
    }
    return IMG_OK;
}

int pg_end(pg_conn_t *c, int rc) {
    if (rc == IMG_OK && pg_cmd(c, "COMMIT", 0, NULL, NULL)) rc = IMG_ESTORE;
    if (rc != IMG_OK) pg_cmd(c, "ROLLBACK", 0, NULL, NULL);
    pg_put(c);
    return rc;
}

const char *pg_i64(char buf[24], int64_t v) {
    snprintf(buf, 24, "%lld", (long long)v);
    return buf;
}

const char *pg_f64(char buf[32], double v) {
    snprintf(buf, 32, "%.17g", v);
    return buf;
}

void pg_text(const PGresult *r, int row, int col, char *dst, size_t len) {
    snprintf(dst, len, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int64_t pg_int(const PGresult *r, int row, int col) {
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

char *pg_dup(const PGresult *r, int row, int col, int *oom) {
    if (PQgetisnull(r, row, col)) return NULL;
    char *s = strdup(PQgetvalue(r, row, col)); /* owned by the caller */
    if (!s) *oom = 1;
    return s;
}

static int migrate(pg_conn_t *c, char *err, size_t errlen) {
    int rc = pg_cmd(c, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", 0, NULL, NULL);
    if (!rc)
        rc = pg_cmd(c,
                    "CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY,"
                    " applied BIGINT NOT NULL)",
                    0, NULL, NULL);
    PGresult *r =
        rc ? NULL : pg_query(c, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL);
    if (!r) {
        snprintf(err, errlen, "cannot read the schema version: %s", PQerrorMessage(c->c));
        return IMG_ESTORE;
    }
    int have = (int)pg_int(r, 0, 0);
    PQclear(r);
    if (have > NMIGRATIONS) {
        snprintf(err, errlen, "the database schema is version %d, newer than this imgapi (%d)",
                 have, NMIGRATIONS);
        return IMG_EUNSUPPORTED;
    }
    for (int v = have + 1; v <= NMIGRATIONS; v++) {
        char vb[24];
        const char *vals[] = {pg_i64(vb, v)};
        PGresult *m = PQexec(c->c, MIGRATIONS[v - 1]); /* several statements: simple protocol */
        int bad = PQresultStatus(m) != PGRES_COMMAND_OK;
        PQclear(m);
        if (bad ||
            pg_cmd(c, "INSERT INTO schema_migrations VALUES($1, " DB_NOW ")", 1, vals, NULL)) {
            snprintf(err, errlen, "schema migration %d failed: %s", v, PQerrorMessage(c->c));
            return IMG_ESTORE;
        }
    }
    return IMG_OK;
}

/* Releases what instances whose heartbeat stopped still hold: their reservations (except those
 * of QUEUED asynchronous requests, which any gateway may resume), their in-progress idempotency
 * records and running requests (FAILED), then forgets them. Safe to run at any time from any
 * instance: rows are deleted with RETURNING, so no reservation is returned twice. */
int pg_release_dead(pg_t *p, int *count) {
    pg_conn_t c;
    *count = 0;
    if (pg_begin(p, &c)) return IMG_ESTORE;
    char tb[24], nb[24];
    const char *vals[] = {pg_i64(tb, PG_INSTANCE_TIMEOUT_S), pg_i64(nb, (int64_t)time(NULL))};
#define LIVE "(SELECT id FROM instances WHERE heartbeat >= " DB_NOW " - $1)"
    int rc = pg_cmd(&c,
                    "UPDATE requests SET status = 3, error_code = 'generation_failed',"
                    " error_message = 'The server stopped while the request was running.',"
                    " expires = $2 + ttl WHERE status = 1 AND owner NOT IN " LIVE,
                    2, vals, NULL);
    PGresult *r =
        rc ? NULL
           : pg_query(&c,
                      "WITH gone AS (DELETE FROM reservations WHERE owner NOT IN " LIVE
                      " AND job_id NOT IN (SELECT id FROM requests WHERE status = 0)"
                      " RETURNING key_id, amount),"
                      " sums AS (SELECT key_id, sum(amount) AS a FROM gone GROUP BY key_id),"
                      " upd AS (UPDATE keys SET balance = balance + sums.a,"
                      " reserved = reserved - sums.a FROM sums WHERE keys.id = sums.key_id"
                      " RETURNING 1)"
                      " SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM upd)",
                      1, vals);
    if (!r) {
        rc = IMG_ESTORE;
    } else {
        *count = (int)pg_int(r, 0, 0);
        PQclear(r);
    }
    if (!rc)
        rc = pg_cmd(&c, "DELETE FROM idempotency WHERE status = 0 AND owner NOT IN " LIVE, 1, vals,
                    NULL);
    if (!rc)
        rc = pg_cmd(&c, "DELETE FROM instances WHERE heartbeat < " DB_NOW " - $1", 1, vals, NULL);
#undef LIVE
    return pg_end(&c, rc);
}

static int register_instance(pg_t *p) {
    pg_conn_t c;
    if (pg_get(p, &c)) return IMG_ESTORE;
    const char *vals[] = {p->instance};
    long n = 0;
    int rc = pg_cmd(&c, "UPDATE instances SET heartbeat = " DB_NOW " WHERE id = $1", 1, vals, &n);
    /* a missing row: first beat, or others took us for dead (what we held is gone already) */
    if (!rc && n == 0)
        rc = pg_cmd(&c,
                    "INSERT INTO instances(id, started, heartbeat) VALUES($1, " DB_NOW ", " DB_NOW
                    ") ON CONFLICT (id) DO UPDATE SET heartbeat = " DB_NOW,
                    1, vals, NULL);
    pg_put(&c);
    return rc;
}

/* Every PG_HEARTBEAT_S: refresh this instance, and release what dead instances hold. Errors
 * (the database restarting) are retried on the next beat. */
static void *heartbeat(void *arg) {
    pg_t *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += PG_HEARTBEAT_S;
        while (!p->stopping && pthread_cond_timedwait(&p->beat_cv, &p->mu, &until) != ETIMEDOUT) {
        }
        if (p->stopping) break;
        pthread_mutex_unlock(&p->mu);
        int n;
        if (register_instance(p) == IMG_OK) pg_release_dead(p, &n);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int pg_setup(pg_t *p, char *err, size_t errlen) {
    uint8_t raw[8];
    char hex[17];
    if (crypto_random(raw, sizeof raw)) return IMG_EIO;
    crypto_hex(raw, sizeof raw, hex);
    snprintf(p->instance, sizeof p->instance, "inst_%s", hex);
    pg_conn_t c;
    if (pg_begin(p, &c)) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
                 p->conns[0] ? PQerrorMessage(p->conns[0]) : "out of memory");
        /* libpq's messages end with a newline */
        size_t l = strlen(err);
        while (l && (err[l - 1] == '\n' || err[l - 1] == ' '))
            err[--l] = 0;
        return IMG_ESTORE;
    }
    int rc = pg_end(&c, migrate(&c, err, errlen));
    if (rc) return rc;
    if (register_instance(p)) {
        snprintf(err, errlen, "cannot register this instance in PostgreSQL");
        return IMG_ESTORE;
    }
    if (pthread_create(&p->beat, NULL, heartbeat, p)) {
        snprintf(err, errlen, "cannot start the store heartbeat thread");
        return IMG_ENOMEM;
    }
    p->beat_started = 1;
    return IMG_OK;
}

void pg_shutdown(pg_t *p) {
    if (p->beat_started) {
        pthread_mutex_lock(&p->mu);
        p->stopping = 1;
        pthread_cond_signal(&p->beat_cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->beat, NULL);
        p->beat_started = 0;
    }
}
