/* store_sqlite_requests.c - asynchronous requests (SPEC §10) in the SQLite store.
 *
 * A request's row and its credit reservation (keyed by the request id) change together in one
 * transaction, so after any crash the row's status says what happened to the money: QUEUED
 * holds a reservation, COMPLETED was charged, FAILED was released. A row is readable until its
 * expiry, except while PROCESSING (a started request runs to its end, then gets a new expiry). */
#include "common/status.h"
#include "store/sqlite_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AREQ_HEAD                                                                                  \
    "id, key_id, model, route, seed, cost, status, created, ttl, expires, inference_time,"         \
    " error_code, error_message, webhook_url, "
#define AREQ_COLS AREQ_HEAD "body, output"
#define AREQ_COLS_LIGHT AREQ_HEAD "NULL, NULL" /* status polls never read the image payload */

static char *dup_col(sqlite3_stmt *st, int col) {
    const char *t = (const char *)sqlite3_column_text(st, col);
    return t ? strdup(t) : NULL;
}

static void text_col(sqlite3_stmt *st, int col, char *dst, size_t len) {
    const char *t = (const char *)sqlite3_column_text(st, col);
    snprintf(dst, len, "%s", t ? t : "");
}

/* Fills *a from a row of AREQ_COLS; payload also copies body and output (malloc'd). */
static int read_areq(sqlite3_stmt *st, int payload, store_areq_t *a) {
    memset(a, 0, sizeof *a);
    text_col(st, 0, a->id, sizeof a->id);
    text_col(st, 1, a->key_id, sizeof a->key_id);
    text_col(st, 2, a->model, sizeof a->model);
    text_col(st, 3, a->route, sizeof a->route);
    a->seed = (uint32_t)sqlite3_column_int64(st, 4);
    a->cost = sqlite3_column_int64(st, 5);
    a->status = sqlite3_column_int(st, 6);
    a->created = sqlite3_column_int64(st, 7);
    a->ttl = sqlite3_column_int64(st, 8);
    a->expires = sqlite3_column_int64(st, 9);
    a->inference_time = sqlite3_column_double(st, 10);
    text_col(st, 11, a->error_code, sizeof a->error_code);
    text_col(st, 12, a->error_message, sizeof a->error_message);
    text_col(st, 13, a->webhook_url, sizeof a->webhook_url);
    if (!payload) return IMG_OK;
    a->body = dup_col(st, 14);
    a->output = dup_col(st, 15);
    if ((!a->body && sqlite3_column_type(st, 14) != SQLITE_NULL) ||
        (!a->output && sqlite3_column_type(st, 15) != SQLITE_NULL)) {
        store_areq_clear(a);
        return IMG_ENOMEM;
    }
    return IMG_OK;
}

int sq_areq_insert(void *impl, const store_areq_t *a) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    sqlite3_stmt *st = sq_prep(q, "INSERT INTO requests(id, key_id, model, route, body, seed, cost,"
                                  " status, created, ttl, expires, webhook_url)"
                                  " VALUES(?,?,?,?,?,?,?,0,?,?,?,?)");
    if (st) {
        sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, a->key_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, a->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, a->route, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, a->body ? a->body : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, a->seed);
        sqlite3_bind_int64(st, 7, a->cost);
        sqlite3_bind_int64(st, 8, a->created);
        sqlite3_bind_int64(st, 9, a->ttl);
        sqlite3_bind_int64(st, 10, a->created + a->ttl);
        sqlite3_bind_text(st, 11, a->webhook_url, -1, SQLITE_STATIC);
    }
    return sq_end(q, sq_step_done(st));
}

int sq_areq_get(void *impl, const char *id, int64_t now, int payload, store_areq_t *out) {
    sq_t *q = impl;
    pthread_mutex_lock(&q->mu);
    sqlite3_stmt *st =
        sq_prep(q, payload ? "SELECT " AREQ_COLS
                             " FROM requests WHERE id = ? AND (expires > ? OR status = 1)"
                           : "SELECT " AREQ_COLS_LIGHT
                             " FROM requests WHERE id = ? AND (expires > ? OR status = 1)");
    int rc = IMG_ESTORE;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            rc = read_areq(st, payload, out);
        else if (r == SQLITE_DONE)
            rc = IMG_ENOTFOUND;
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static int areq_row(sqlite3_stmt *st, void *row, void *ctx) {
    (void)ctx;
    return read_areq(st, 1, row);
}

int sq_areq_queued(void *impl, store_areq_t **out, size_t *n) {
    sq_t *q = impl;
    pthread_mutex_lock(&q->mu);
    int rc = sq_collect(
        sq_prep(q, "SELECT " AREQ_COLS " FROM requests WHERE status = 0 ORDER BY created, rowid"),
        sizeof **out, (void **)out, n, areq_row, NULL);
    pthread_mutex_unlock(&q->mu);
    if (rc) {
        for (size_t i = 0; i < *n; i++)
            store_areq_clear(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int sq_areq_start(void *impl, const char *id) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    sqlite3_stmt *st = sq_prep(q, "UPDATE requests SET status = 1 WHERE id = ? AND status = 0");
    if (st) sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    return sq_end(q, sq_changes_or_notfound(q, sq_step_done(st)));
}

int sq_areq_complete(void *impl, const char *id, const store_usage_t *u, const char *output,
                     double seconds, int64_t now, const char *hook_body) {
    sq_t *q = impl;
    char key_id[64];
    if (sq_begin(q)) return IMG_ESTORE;
    int rc = sq_charge_tx(q, id, u, key_id); /* IMG_ENOTFOUND: swept after expiry */
    if (rc == IMG_OK) {
        sqlite3_stmt *st =
            sq_prep(q, "UPDATE requests SET status = 2, output = ?, inference_time = ?,"
                       " expires = ? + ttl WHERE id = ? AND status IN (0, 1)");
        if (st) {
            sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
            sqlite3_bind_double(st, 2, seconds);
            sqlite3_bind_int64(st, 3, now);
            sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
        }
        rc = sq_changes_or_notfound(q, sq_step_done(st));
    }
    if (rc == IMG_OK && hook_body) rc = sq_hook_enqueue_tx(q, id, hook_body, now);
    return sq_end(q, rc);
}

/* Inside a transaction: releases what the request holds and marks it FAILED; an expired request
 * keeps its expiry, others are readable for another ttl. */
static int fail_tx(sq_t *q, const char *id, const char *code, const char *message, double seconds,
                   int64_t now) {
    int rc = sq_release_tx(q, id);
    if (rc == IMG_ENOTFOUND) rc = IMG_OK; /* nothing was held (already settled) */
    if (rc) return rc;
    sqlite3_stmt *st =
        sq_prep(q, "UPDATE requests SET status = 3, error_code = ?, error_message = ?,"
                   " inference_time = ?, expires = CASE WHEN expires <= ?4 THEN expires"
                   " ELSE ?4 + ttl END WHERE id = ?5 AND status IN (0, 1)");
    if (st) {
        sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, message, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, seconds);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_text(st, 5, id, -1, SQLITE_STATIC);
    }
    return sq_changes_or_notfound(q, sq_step_done(st));
}

int sq_areq_fail(void *impl, const char *id, const char *code, const char *message, double seconds,
                 int64_t now, const char *hook_body) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    int rc = fail_tx(q, id, code, message, seconds, now);
    if (rc == IMG_OK && hook_body) rc = sq_hook_enqueue_tx(q, id, hook_body, now);
    return sq_end(q, rc);
}

int sq_areq_cancel(void *impl, const char *id, const char *key_id, int64_t now) {
    sq_t *q = impl;
    if (sq_begin(q)) return IMG_ESTORE;
    sqlite3_stmt *st = sq_prep(
        q,
        "SELECT status FROM requests WHERE id = ? AND key_id = ? AND (expires > ? OR status = 1)");
    int rc = IMG_ESTORE;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        int r = sqlite3_step(st);
        rc = r == SQLITE_ROW    ? (sqlite3_column_int(st, 0) == AREQ_QUEUED ? IMG_OK : IMG_EBUSY)
             : r == SQLITE_DONE ? IMG_ENOTFOUND
                                : IMG_ESTORE;
        sqlite3_finalize(st);
    }
    if (rc == IMG_OK)
        rc = fail_tx(q, id, "request_cancelled", "The request was cancelled before it started.", 0,
                     now);
    /* ENOTFOUND/EBUSY are answers: nothing to roll back */
    int end = sq_end(q, rc == IMG_ENOTFOUND || rc == IMG_EBUSY ? IMG_OK : rc);
    return end ? end : rc;
}

int sq_areq_sweep(void *impl, int64_t now, int *count) {
    sq_t *q = impl;
    *count = 0;
    if (sq_begin(q)) return IMG_ESTORE;
    /* what an expired request still holds goes back to its key */
    sqlite3_stmt *st =
        sq_prep(q, "SELECT id FROM requests WHERE expires <= ? AND status != 1 AND id IN"
                   " (SELECT job_id FROM reservations)");
    int rc = st ? IMG_OK : IMG_ESTORE;
    if (st) sqlite3_bind_int64(st, 1, now);
    char ids[64][40];
    int nid = 0;
    while (rc == IMG_OK && nid < 64) {
        int r = sqlite3_step(st);
        if (r == SQLITE_DONE) break;
        if (r != SQLITE_ROW) {
            rc = IMG_ESTORE;
            break;
        }
        snprintf(ids[nid++], sizeof ids[0], "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    for (int i = 0; i < nid && rc == IMG_OK; i++)
        rc = sq_release_tx(q, ids[i]);
    if (rc == IMG_OK) {
        /* deletes only rows that hold nothing now (more than 64 to release: the next sweep) */
        st = sq_prep(q, "DELETE FROM requests WHERE expires <= ? AND status != 1 AND id NOT IN "
                        "(SELECT job_id FROM reservations)");
        if (st) sqlite3_bind_int64(st, 1, now);
        rc = sq_step_done(st);
        if (rc == IMG_OK) *count = sqlite3_changes(q->db);
    }
    return sq_end(q, rc);
}
