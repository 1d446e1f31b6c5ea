/* store_sqlite.c - the embedded store backend: one SQLite file in WAL mode.
 *
 * One connection guarded by a mutex (the server's request threads share it); busy_timeout lets
 * the CLI write to the same file while a server runs. Every ledger change is one IMMEDIATE
 * transaction, so a crash leaves either all or none of it (granted = balance+reserved+charged). */
#include "common/clock.h"
#include "common/status.h"
#include "store/sqlite_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS keys(id TEXT PRIMARY KEY, hash BLOB NOT NULL,"
    " granted INTEGER NOT NULL, balance INTEGER NOT NULL, reserved INTEGER NOT NULL DEFAULT 0,"
    " charged INTEGER NOT NULL DEFAULT 0, rpm INTEGER NOT NULL DEFAULT 0,"
    " concurrency INTEGER NOT NULL DEFAULT 0, models TEXT NOT NULL DEFAULT '',"
    " revoked INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
    " CHECK (balance >= 0 AND reserved >= 0 AND charged >= 0));"
    "CREATE TABLE IF NOT EXISTS grants(id INTEGER PRIMARY KEY, key_id TEXT NOT NULL,"
    " amount INTEGER NOT NULL, ts INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS reservations(job_id TEXT PRIMARY KEY, key_id TEXT NOT NULL,"
    " amount INTEGER NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS usage(id INTEGER PRIMARY KEY, key_id TEXT NOT NULL,"
    " request_id TEXT, ts INTEGER NOT NULL, route TEXT, model TEXT, quality TEXT, size TEXT,"
    " n INTEGER, cost INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS usage_key ON usage(key_id);"
    "CREATE TABLE IF NOT EXISTS idempotency(key_id TEXT NOT NULL, idem_key TEXT NOT NULL,"
    " body_hash TEXT NOT NULL, status INTEGER NOT NULL DEFAULT 0, body TEXT,"
    " created INTEGER NOT NULL, expires INTEGER NOT NULL, PRIMARY KEY(key_id, idem_key));"
    "CREATE TABLE IF NOT EXISTS requests(id TEXT PRIMARY KEY, key_id TEXT NOT NULL,"
    " model TEXT NOT NULL, route TEXT NOT NULL, body TEXT NOT NULL, seed INTEGER NOT NULL,"
    " cost INTEGER NOT NULL, status INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
    " ttl INTEGER NOT NULL, expires INTEGER NOT NULL, inference_time REAL NOT NULL DEFAULT 0,"
    " output TEXT, error_code TEXT, error_message TEXT, webhook_url TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS key_webhooks(key_id TEXT PRIMARY KEY, url TEXT NOT NULL DEFAULT '',"
    " secret TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS webhooks(id INTEGER PRIMARY KEY, request_id TEXT NOT NULL,"
    " key_id TEXT NOT NULL, url TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL"
    " DEFAULT 0, status INTEGER NOT NULL DEFAULT 0, last_http INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT NOT NULL DEFAULT '', next_at REAL NOT NULL, created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS webhooks_due ON webhooks(status, next_at);"
    "CREATE INDEX IF NOT EXISTS requests_status ON requests(status);"
    "CREATE INDEX IF NOT EXISTS requests_expires ON requests(expires);"
    "INSERT OR REPLACE INTO meta(name, value) VALUES('schema_version', '2');";

int sq_exec(sq_t *q, const char *sql) {
    return sqlite3_exec(q->db, sql, NULL, NULL, NULL) == SQLITE_OK ? IMG_OK : IMG_ESTORE;
}

sqlite3_stmt *sq_prep(sq_t *q, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
    return st;
}

/* Runs a statement that returns no rows; returns IMG_OK or IMG_ESTORE. Finalizes it. */
int sq_step_done(sqlite3_stmt *st) {
    if (!st) return IMG_ESTORE;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? IMG_OK : IMG_ESTORE;
}

int sq_collect(sqlite3_stmt *st, size_t elem, void **out, size_t *n,
               int (*read_row)(sqlite3_stmt *st, void *row, void *ctx), void *ctx) {
    *out = NULL;
    *n = 0;
    int rc = st ? IMG_OK : IMG_ESTORE;
    size_t cap = 0;
    while (rc == IMG_OK) {
        int r = sqlite3_step(st);
        if (r == SQLITE_DONE) break;
        if (r != SQLITE_ROW) {
            rc = IMG_ESTORE;
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            void *p = realloc(*out, cap * elem); /* owned by the caller */
            if (!p) {
                rc = IMG_ENOMEM;
                break;
            }
            *out = p;
        }
        void *row = (char *)*out + *n * elem;
        memset(row, 0, elem);
        rc = read_row(st, row, ctx);
        (*n)++;
    }
    sqlite3_finalize(st);
    return rc;
}

int sq_begin(sq_t *q) {
    pthread_mutex_lock(&q->mu);
    if (sq_exec(q, "BEGIN IMMEDIATE")) {
        pthread_mutex_unlock(&q->mu);
        return IMG_ESTORE;
    }
    return IMG_OK;
}

int sq_end(sq_t *q, int rc) {
    if (rc == IMG_OK) {
        if (sq_exec(q, "COMMIT")) rc = IMG_ESTORE;
    }
    if (rc != IMG_OK) sq_exec(q, "ROLLBACK");
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static int sq_ping(void *impl) {
    sq_t *q = impl;
    pthread_mutex_lock(&q->mu);
    sqlite3_stmt *st = sq_prep(q, "SELECT count(*) FROM meta");
    int rc = st && sqlite3_step(st) == SQLITE_ROW ? IMG_OK : IMG_ESTORE;
    sqlite3_finalize(st);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static void sq_close(void *impl) {
    sq_t *q = impl;
    sqlite3_close(q->db);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static int sq_key_insert(void *impl, const store_key_t *k, const uint8_t hash[32]) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    sqlite3_stmt *st = sq_prep(q, "INSERT INTO keys(id, hash, granted, balance, rpm, concurrency,"
                                  " models, created) VALUES(?,?,?,?,?,?,?,?)");
    int rc = IMG_ESTORE;
    if (st) {
        sqlite3_bind_text(st, 1, k->id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, k->granted);
        sqlite3_bind_int64(st, 4, k->granted);
        sqlite3_bind_int(st, 5, k->rpm);
        sqlite3_bind_int(st, 6, k->concurrency);
        sqlite3_bind_text(st, 7, k->models, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, clock_wall());
        rc = sq_step_done(st);
    }
    if (rc == IMG_OK && k->granted > 0) {
        st = sq_prep(q, "INSERT INTO grants(key_id, amount, ts) VALUES(?,?,?)");
        if (st) {
            sqlite3_bind_text(st, 1, k->id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, k->granted);
            sqlite3_bind_int64(st, 3, clock_wall());
        }
        rc = sq_step_done(st);
    }
    return sq_end(q, rc);
}

#define KEY_COLS                                                                                   \
    "id, granted, balance, reserved, charged, rpm, concurrency, models, revoked, created, hash"

static void read_key(sqlite3_stmt *st, store_key_t *k, uint8_t *hash) {
    memset(k, 0, sizeof *k);
    snprintf(k->id, sizeof k->id, "%s", (const char *)sqlite3_column_text(st, 0));
    k->granted = sqlite3_column_int64(st, 1);
    k->balance = sqlite3_column_int64(st, 2);
    k->reserved = sqlite3_column_int64(st, 3);
    k->charged = sqlite3_column_int64(st, 4);
    k->rpm = sqlite3_column_int(st, 5);
    k->concurrency = sqlite3_column_int(st, 6);
    snprintf(k->models, sizeof k->models, "%s", (const char *)sqlite3_column_text(st, 7));
    k->revoked = sqlite3_column_int(st, 8);
    k->created = sqlite3_column_int64(st, 9);
    if (hash && sqlite3_column_bytes(st, 10) == 32) memcpy(hash, sqlite3_column_blob(st, 10), 32);
}

static int sq_key_get(void *impl, const char *id, store_key_t *out, uint8_t hash[32]) {
    sq_t *q = impl;
    pthread_mutex_lock(&q->mu);
    sqlite3_stmt *st = sq_prep(q, "SELECT " KEY_COLS " FROM keys WHERE id = ?");
    int rc = IMG_ESTORE;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            read_key(st, out, hash);
            rc = IMG_OK;
        } else if (r == SQLITE_DONE) {
            rc = IMG_ENOTFOUND;
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static int key_row(sqlite3_stmt *st, void *row, void *ctx) {
    (void)ctx;
    read_key(st, row, NULL);
    return IMG_OK;
}

static int sq_key_list(void *impl, store_key_t **out, size_t *n) {
    sq_t *q = impl;
    pthread_mutex_lock(&q->mu);
    int rc = sq_collect(sq_prep(q, "SELECT " KEY_COLS " FROM keys ORDER BY created, id"),
                        sizeof **out, (void **)out, n, key_row, NULL);
    pthread_mutex_unlock(&q->mu);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int sq_changes_or_notfound(sq_t *q, int rc) {
    if (rc == IMG_OK && sqlite3_changes(q->db) == 0) return IMG_ENOTFOUND;
    return rc;
}

static int sq_key_revoke(void *impl, const char *id) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    sqlite3_stmt *st = sq_prep(q, "UPDATE keys SET revoked = 1 WHERE id = ?");
    if (st) sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sq_changes_or_notfound(q, sq_step_done(st));
    return sq_end(q, rc);
}

static int sq_grant(void *impl, const char *id, int64_t micro) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    /* the bound is tested as granted <= MAX - micro so that the check itself cannot overflow */
    sqlite3_stmt *st = sq_prep(q, "UPDATE keys SET granted = granted + ?1, balance = balance + ?1"
                                  " WHERE id = ?2 AND granted <= ?3 - ?1");
    if (st) {
        sqlite3_bind_int64(st, 1, micro);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, STORE_MAX_GRANTED_MICRO);
    }
    int rc = sq_changes_or_notfound(q, sq_step_done(st));
    if (rc == IMG_ENOTFOUND) { /* no such key, or the grant would pass the bound */
        st = sq_prep(q, "SELECT 1 FROM keys WHERE id = ?");
        if (st) sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int step = st ? sqlite3_step(st) : SQLITE_ERROR;
        sqlite3_finalize(st);
        rc = step == SQLITE_ROW ? IMG_ERANGE : step == SQLITE_DONE ? IMG_ENOTFOUND : IMG_ESTORE;
    }
    if (rc == IMG_OK) {
        st = sq_prep(q, "INSERT INTO grants(key_id, amount, ts) VALUES(?,?,?)");
        if (st) {
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, micro);
            sqlite3_bind_int64(st, 3, clock_wall());
        }
        rc = sq_step_done(st);
    }
    return sq_end(q, rc);
}

static int sq_reserve(void *impl, const char *key_id, const char *job_id, int64_t micro) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    sqlite3_stmt *st = sq_prep(q, "UPDATE keys SET balance = balance - ?1, reserved = reserved + ?1"
                                  " WHERE id = ?2 AND balance >= ?1");
    if (st) {
        sqlite3_bind_int64(st, 1, micro);
        sqlite3_bind_text(st, 2, key_id, -1, SQLITE_STATIC);
    }
    int rc = sq_step_done(st);
    if (rc == IMG_OK && sqlite3_changes(q->db) == 0) rc = IMG_ECREDITS;
    if (rc == IMG_OK) {
        st =
            sq_prep(q, "INSERT INTO reservations(job_id, key_id, amount, created) VALUES(?,?,?,?)");
        if (st) {
            sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, key_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, micro);
            sqlite3_bind_int64(st, 4, clock_wall());
        }
        rc = sq_step_done(st);
    }
    return sq_end(q, rc);
}

/* Reads and deletes a job's reservation inside an open transaction. */
int sq_take_reservation(sq_t *q, const char *job_id, char key_id[64], int64_t *amount) {
    sqlite3_stmt *st = sq_prep(q, "SELECT key_id, amount FROM reservations WHERE job_id = ?");
    if (!st) return IMG_ESTORE;
    sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        sqlite3_finalize(st);
        return r == SQLITE_DONE ? IMG_ENOTFOUND : IMG_ESTORE;
    }
    snprintf(key_id, 64, "%s", (const char *)sqlite3_column_text(st, 0));
    *amount = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    st = sq_prep(q, "DELETE FROM reservations WHERE job_id = ?");
    if (st) sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
    return sq_step_done(st);
}

int sq_charge_tx(sq_t *q, const char *job_id, const store_usage_t *u, char key_id[64]) {
    int64_t amount = 0;
    int rc = sq_take_reservation(q, job_id, key_id, &amount);
    if (rc == IMG_OK) {
        sqlite3_stmt *st = sq_prep(q, "UPDATE keys SET reserved = reserved - ?1,"
                                      " charged = charged + ?1 WHERE id = ?2");
        if (st) {
            sqlite3_bind_int64(st, 1, amount);
            sqlite3_bind_text(st, 2, key_id, -1, SQLITE_STATIC);
        }
        rc = sq_step_done(st);
    }
    if (rc == IMG_OK && u) {
        sqlite3_stmt *st = sq_prep(q, "INSERT INTO usage(key_id, request_id, ts, route, model,"
                                      " quality, size, n, cost) VALUES(?,?,?,?,?,?,?,?,?)");
        if (st) {
            sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, u->request_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, clock_wall());
            sqlite3_bind_text(st, 4, u->route, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 5, u->model, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 6, u->quality, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 7, u->size, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 8, u->n);
            sqlite3_bind_int64(st, 9, amount);
        }
        rc = sq_step_done(st);
    }
    return rc;
}

static int sq_charge(void *impl, const char *job_id, const store_usage_t *u, const char *idem_key,
                     int idem_status, const char *idem_body) {
    sq_t *q = impl;
    char key_id[64];
    if (sq_begin(q)) return IMG_ESTORE;
    int rc = sq_charge_tx(q, job_id, u, key_id);
    if (rc == IMG_OK && idem_key) {
        sqlite3_stmt *st = sq_prep(q, "UPDATE idempotency SET status = ?, body = ?"
                                      " WHERE key_id = ? AND idem_key = ?");
        if (st) {
            sqlite3_bind_int(st, 1, idem_status);
            sqlite3_bind_text(st, 2, idem_body, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, key_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, idem_key, -1, SQLITE_STATIC);
        }
        rc = sq_step_done(st);
    }
    return sq_end(q, rc);
}

int sq_release_tx(sq_t *q, const char *job_id) {
    char key_id[64];
    int64_t amount = 0;
    int rc = sq_take_reservation(q, job_id, key_id, &amount);
    if (rc == IMG_OK) {
        sqlite3_stmt *st = sq_prep(q, "UPDATE keys SET reserved = reserved - ?1,"
                                      " balance = balance + ?1 WHERE id = ?2");
        if (st) {
            sqlite3_bind_int64(st, 1, amount);
            sqlite3_bind_text(st, 2, key_id, -1, SQLITE_STATIC);
        }
        rc = sq_step_done(st);
    }
    return rc;
}

static int sq_release(void *impl, const char *job_id) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    return sq_end(q, sq_release_tx(q, job_id));
}

static int sq_release_orphans(void *impl, int *count) {
    sq_t *q = impl;
    *count = 0;
    if (sq_begin(q)) return IMG_ESTORE;
    /* Asynchronous requests that were running died with the process; queued ones resume. */
    sqlite3_stmt *st =
        sq_prep(q, "UPDATE requests SET status = 3, error_code = 'generation_failed',"
                   " error_message = 'The server stopped while the request was running.',"
                   " expires = ?1 + ttl WHERE status = 1");
    if (st) sqlite3_bind_int64(st, 1, clock_wall());
    int rc = sq_step_done(st);
    const char *mine = " FROM reservations r WHERE r.key_id = keys.id AND r.job_id NOT IN"
                       " (SELECT id FROM requests WHERE status = 0)";
    char sql[1024];
    snprintf(sql, sizeof sql,
             "UPDATE keys SET balance = balance + (SELECT coalesce(sum(amount), 0)%s),"
             " reserved = reserved - (SELECT coalesce(sum(amount), 0)%s)"
             " WHERE id IN (SELECT key_id FROM reservations)",
             mine, mine);
    if (rc == IMG_OK) rc = sq_exec(q, sql);
    if (rc == IMG_OK) {
        rc = sq_exec(q, "DELETE FROM reservations WHERE job_id NOT IN"
                        " (SELECT id FROM requests WHERE status = 0)");
        *count = sqlite3_changes(q->db);
    }
    /* In-progress idempotency records belonged to the dead process: let retries run again. */
    if (rc == IMG_OK) rc = sq_exec(q, "DELETE FROM idempotency WHERE status = 0");
    return sq_end(q, rc);
}

static int sq_idem_begin(void *impl, const char *key_id, const char *idem_key, const char *hash,
                         int64_t now, int64_t ttl, store_idem_t *existing) {
    sq_t *q = impl;
    memset(existing, 0, sizeof *existing);
    if (sq_begin(q)) return IMG_ESTORE;
    sqlite3_stmt *st = sq_prep(q, "DELETE FROM idempotency WHERE expires <= ?");
    if (st) sqlite3_bind_int64(st, 1, now);
    int rc = sq_step_done(st);
    if (rc == IMG_OK) {
        st = sq_prep(q, "SELECT body_hash, status, body FROM idempotency"
                        " WHERE key_id = ? AND idem_key = ?");
        rc = IMG_ESTORE;
        if (st) {
            sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, idem_key, -1, SQLITE_STATIC);
            int r = sqlite3_step(st);
            if (r == SQLITE_ROW) {
                snprintf(existing->body_hash, sizeof existing->body_hash, "%s",
                         (const char *)sqlite3_column_text(st, 0));
                existing->status = sqlite3_column_int(st, 1);
                const char *b = (const char *)sqlite3_column_text(st, 2);
                existing->body = b ? strdup(b) : NULL;
                rc = strcmp(existing->body_hash, hash) == 0 ? IMG_EEXIST : IMG_EINVAL;
                if (b && !existing->body) rc = IMG_ENOMEM;
            } else if (r == SQLITE_DONE) {
                rc = IMG_OK;
            }
            sqlite3_finalize(st);
        }
    }
    if (rc == IMG_OK) {
        st = sq_prep(q, "INSERT INTO idempotency(key_id, idem_key, body_hash, created, expires)"
                        " VALUES(?,?,?,?,?)");
        if (st) {
            sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, idem_key, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 4, now);
            sqlite3_bind_int64(st, 5, now + ttl);
        }
        rc = sq_step_done(st);
    }
    /* EEXIST/EINVAL are answers, not failures: commit the expiry sweep either way. */
    int end = sq_end(q, rc == IMG_EEXIST || rc == IMG_EINVAL ? IMG_OK : rc);
    return end ? end : rc;
}

static int sq_idem_finish(void *impl, const char *key_id, const char *idem_key, int status,
                          const char *body) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    sqlite3_stmt *st = sq_prep(q, "UPDATE idempotency SET status = ?, body = ?"
                                  " WHERE key_id = ? AND idem_key = ?");
    if (st) {
        sqlite3_bind_int(st, 1, status);
        sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, key_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, idem_key, -1, SQLITE_STATIC);
    }
    return sq_end(q, sq_step_done(st));
}

static int sq_idem_abandon(void *impl, const char *key_id, const char *idem_key) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    sqlite3_stmt *st = sq_prep(q, "DELETE FROM idempotency WHERE key_id = ? AND idem_key = ?"
                                  " AND status = 0");
    if (st) {
        sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, idem_key, -1, SQLITE_STATIC);
    }
    return sq_end(q, sq_step_done(st));
}

static int sq_usage_count(void *impl, const char *key_id, int64_t *requests, int64_t *images) {
    sq_t *q = impl;
    pthread_mutex_lock(&q->mu);
    sqlite3_stmt *st =
        sq_prep(q, "SELECT count(*), coalesce(sum(n), 0) FROM usage WHERE key_id = ?");
    int rc = IMG_ESTORE;
    if (st) {
        sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *requests = sqlite3_column_int64(st, 0);
            *images = sqlite3_column_int64(st, 1);
            rc = IMG_OK;
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static const store_ops_t SQLITE_OPS = {
    .ping = sq_ping,
    .close = sq_close,
    .key_insert = sq_key_insert,
    .key_get = sq_key_get,
    .key_list = sq_key_list,
    .key_revoke = sq_key_revoke,
    .grant = sq_grant,
    .reserve = sq_reserve,
    .charge = sq_charge,
    .release = sq_release,
    .release_orphans = sq_release_orphans,
    .idem_begin = sq_idem_begin,
    .idem_finish = sq_idem_finish,
    .idem_abandon = sq_idem_abandon,
    .usage_count = sq_usage_count,
    .areq_insert = sq_areq_insert,
    .areq_get = sq_areq_get,
    .areq_queued = sq_areq_queued,
    .areq_start = sq_areq_start,
    .areq_complete = sq_areq_complete,
    .areq_fail = sq_areq_fail,
    .areq_cancel = sq_areq_cancel,
    .areq_sweep = sq_areq_sweep,
    .hook_key_get = sq_hook_key_get,
    .hook_key_set = sq_hook_key_set,
    .hook_due = sq_hook_due,
    .hook_result = sq_hook_result,
    .hook_list = sq_hook_list,
};

int store_sqlite_open(const char *path, int busy_ms, const store_ops_t **ops, void **impl,
                      char *err, size_t errlen) {
    sq_t *q = calloc(1, sizeof *q);
    if (!q) return IMG_ENOMEM;
    if (sqlite3_open_v2(path, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the database %s: %s", path,
                 q->db ? sqlite3_errmsg(q->db) : "out of memory");
        sqlite3_close(q->db);
        free(q);
        return IMG_ESTORE;
    }
    sqlite3_busy_timeout(q->db, busy_ms > 0 ? busy_ms : 5000);
    pthread_mutex_init(&q->mu, NULL);
    if (sq_exec(q, "PRAGMA journal_mode=WAL") || sq_exec(q, "PRAGMA synchronous=FULL") ||
        sq_exec(q, "PRAGMA foreign_keys=ON") || sq_exec(q, SCHEMA)) {
        snprintf(err, errlen, "cannot initialise the database %s: %s", path, sqlite3_errmsg(q->db));
        sq_close(q);
        return IMG_ESTORE;
    }
    *ops = &SQLITE_OPS;
    *impl = q;
    return IMG_OK;
}
