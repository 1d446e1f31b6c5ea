/* store_sqlite_webhooks.c - webhook registrations (per key) and deliveries in the SQLite store.
 *
 * A delivery is queued in the same transaction that settles its request, so a crash can lose
 * neither; the sender (server/webhook.c) records every attempt here, which is the delivery log
 * `imgapi webhooks log` reads. */
#include "common/status.h"
#include "store/sqlite_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inside a transaction: IMG_OK when the key exists, IMG_ENOTFOUND when not. */
static int key_exists_tx(sq_t *q, const char *key_id) {
    sqlite3_stmt *st = sq_prep(q, "SELECT count(*) FROM keys WHERE id = ?");
    int rc = IMG_ESTORE;
    if (st) {
        sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) rc = sqlite3_column_int(st, 0) ? IMG_OK : IMG_ENOTFOUND;
        sqlite3_finalize(st);
    }
    return rc;
}

int sq_hook_key_get(void *impl, const char *key_id, const char *candidate, char *url,
                    size_t url_len, char *secret) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    sqlite3_stmt *st;
    int rc = key_exists_tx(q, key_id);
    if (rc == IMG_OK) {
        st = sq_prep(q, "INSERT OR IGNORE INTO key_webhooks(key_id, secret) VALUES(?, ?)");
        if (st) {
            sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, candidate, -1, SQLITE_STATIC);
        }
        rc = sq_step_done(st);
    }
    if (rc == IMG_OK) {
        st = sq_prep(q, "SELECT url, secret FROM key_webhooks WHERE key_id = ?");
        rc = IMG_ESTORE;
        if (st) {
            sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW) {
                snprintf(url, url_len, "%s", (const char *)sqlite3_column_text(st, 0));
                snprintf(secret, STORE_HOOK_SECRET_LEN + 1, "%s",
                         (const char *)sqlite3_column_text(st, 1));
                rc = IMG_OK;
            }
            sqlite3_finalize(st);
        }
    }
    int end = sq_end(q, rc == IMG_ENOTFOUND ? IMG_OK : rc);
    return end ? end : rc;
}

int sq_hook_key_set(void *impl, const char *key_id, const char *url, const char *secret,
                    int rotate) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    sqlite3_stmt *st;
    int rc = key_exists_tx(q, key_id);
    if (rc == IMG_OK) {
        st = sq_prep(
            q, "INSERT INTO key_webhooks(key_id, url, secret) VALUES(?1, coalesce(?2, ''), ?3)"
               " ON CONFLICT(key_id) DO UPDATE SET url = coalesce(?2, url),"
               " secret = CASE WHEN ?4 THEN ?3 ELSE secret END");
        if (st) {
            sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
            if (url)
                sqlite3_bind_text(st, 2, url, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(st, 2);
            sqlite3_bind_text(st, 3, secret, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 4, rotate);
        }
        rc = sq_step_done(st);
    }
    int end = sq_end(q, rc == IMG_ENOTFOUND ? IMG_OK : rc);
    return end ? end : rc;
}

int sq_hook_enqueue_tx(sq_t *q, const char *request_id, const char *hook_body, int64_t now) {
    sqlite3_stmt *st =
        sq_prep(q, "INSERT INTO webhooks(request_id, key_id, url, body, next_at, created)"
                   " SELECT id, key_id, webhook_url, ?2, ?3, ?3 FROM requests"
                   " WHERE id = ?1 AND webhook_url != ''");
    if (st) {
        sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, hook_body, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
    }
    return sq_step_done(st);
}

#define HOOK_COLS                                                                                  \
    "id, request_id, key_id, url, attempts, status, last_http, last_error, next_at, created"

static void read_hook(sqlite3_stmt *st, store_hook_t *h) {
    memset(h, 0, sizeof *h);
    h->id = sqlite3_column_int64(st, 0);
    snprintf(h->request_id, sizeof h->request_id, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(h->key_id, sizeof h->key_id, "%s", (const char *)sqlite3_column_text(st, 2));
    snprintf(h->url, sizeof h->url, "%s", (const char *)sqlite3_column_text(st, 3));
    h->attempts = sqlite3_column_int(st, 4);
    h->status = sqlite3_column_int(st, 5);
    h->last_http = sqlite3_column_int(st, 6);
    snprintf(h->last_error, sizeof h->last_error, "%s", (const char *)sqlite3_column_text(st, 7));
    h->next_at = sqlite3_column_double(st, 8);
    h->created = sqlite3_column_int64(st, 9);
}

static int hook_row(sqlite3_stmt *st, void *row, void *ctx) {
    store_hook_t *h = row;
    read_hook(st, h);
    if (*(const int *)ctx && !(h->body = strdup((const char *)sqlite3_column_text(st, 10))))
        return IMG_ENOMEM;
    return IMG_OK;
}

/* Runs a query of HOOK_COLS (+ body as column 10 when with_body) into a malloc'd array. */
static int read_hooks(sqlite3_stmt *st, int with_body, store_hook_t **out, size_t *n) {
    int rc = sq_collect(st, sizeof **out, (void **)out, n, hook_row, &with_body);
    if (rc) {
        store_hook_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int sq_hook_due(void *impl, double now, int limit, store_hook_t **out, size_t *n) {
    sq_t *q = impl;
    pthread_mutex_lock(&q->mu);
    sqlite3_stmt *st = sq_prep(q, "SELECT " HOOK_COLS ", body FROM webhooks WHERE status = 0"
                                  " AND next_at <= ? ORDER BY next_at, id LIMIT ?");
    if (st) {
        sqlite3_bind_double(st, 1, now);
        sqlite3_bind_int(st, 2, limit);
    }
    int rc = read_hooks(st, 1, out, n);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int sq_hook_result(void *impl, int64_t id, int delivered, int http, const char *error,
                   double next_at) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    sqlite3_stmt *st =
        sq_prep(q, "UPDATE webhooks SET attempts = attempts + 1, status = ?,"
                   " last_http = ?, last_error = ?, next_at = ? WHERE id = ? AND status = 0");
    if (st) {
        sqlite3_bind_int(st, 1,
                         delivered     ? HOOK_DELIVERED
                         : next_at < 0 ? HOOK_GAVE_UP
                                       : HOOK_PENDING);
        sqlite3_bind_int(st, 2, http);
        sqlite3_bind_text(st, 3, error ? error : "", -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 4, next_at < 0 ? 0 : next_at);
        sqlite3_bind_int64(st, 5, id);
    }
    return sq_end(q, sq_changes_or_notfound(q, sq_step_done(st)));
}

int sq_hook_list(void *impl, const char *key_id, store_hook_t **out, size_t *n) {
    sq_t *q = impl;
    pthread_mutex_lock(&q->mu);
    sqlite3_stmt *st =
        sq_prep(q, "SELECT " HOOK_COLS " FROM webhooks WHERE ?1 IS NULL OR key_id = ?1"
                   " ORDER BY id DESC");
    if (st) {
        if (key_id)
            sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 1);
    }
    int rc = read_hooks(st, 0, out, n);
    pthread_mutex_unlock(&q->mu);
    return rc;
}
