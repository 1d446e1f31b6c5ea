/* sqlite_internal.h - what the SQLite backend's source files share (store_sqlite.c: keys and
 * the ledger; store_sqlite_requests.c: asynchronous requests; store_sqlite_webhooks.c: their
 * webhook deliveries). Not for use outside src/store. */
#ifndef IMGAPI_STORE_SQLITE_INTERNAL_H
#define IMGAPI_STORE_SQLITE_INTERNAL_H
#include "store/store.h"
#include <pthread.h>
#include <sqlite3.h>

typedef struct {
    sqlite3 *db;
    pthread_mutex_t mu; /* one connection, shared by the server's threads */
} sq_t;

int sq_exec(sq_t *q, const char *sql);
/* A prepared statement (finalized by sq_step_done or the caller), or NULL. */
sqlite3_stmt *sq_prep(sq_t *q, const char *sql);
/* Runs a statement that returns no rows and finalizes it: IMG_OK or IMG_ESTORE. */
int sq_step_done(sqlite3_stmt *st);
/* Reads every row of st (finalized here; NULL counts as a store error) into a malloc'd array of
 * elem-byte elements, zeroed before read_row fills one. Rows that read_row has filled are
 * counted in *n even when it fails, so that the caller can free what they own; on any failure
 * the caller frees them and *out, which the return code (IMG_ESTORE, IMG_ENOMEM or read_row's)
 * says. */
int sq_collect(sqlite3_stmt *st, size_t elem, void **out, size_t *n,
               int (*read_row)(sqlite3_stmt *st, void *row, void *ctx), void *ctx);
/* Takes the mutex and opens an IMMEDIATE transaction; sq_end commits (rc == IMG_OK) or rolls
 * back, and unlocks. */
int sq_begin(sq_t *q);
int sq_end(sq_t *q, int rc);
int sq_changes_or_notfound(sq_t *q, int rc);
/* Inside a transaction: reads and deletes a job's reservation. */
int sq_take_reservation(sq_t *q, const char *job_id, char key_id[64], int64_t *amount);
/* Inside a transaction: moves the job's reservation to charged and records usage (u may be NULL).
 */
int sq_charge_tx(sq_t *q, const char *job_id, const store_usage_t *u, char key_id[64]);
/* Inside a transaction: returns the job's reservation to the balance (IMG_ENOTFOUND: none). */
int sq_release_tx(sq_t *q, const char *job_id);

/* store_sqlite_requests.c */
int sq_areq_insert(void *impl, const store_areq_t *a);
int sq_areq_get(void *impl, const char *id, int64_t now, int payload, store_areq_t *out);
int sq_areq_queued(void *impl, store_areq_t **out, size_t *n);
int sq_areq_start(void *impl, const char *id);
int sq_areq_complete(void *impl, const char *id, const store_usage_t *u, const char *output,
                     double seconds, int64_t now, const char *hook_body);
int sq_areq_fail(void *impl, const char *id, const char *code, const char *message, double seconds,
                 int64_t now, const char *hook_body);
int sq_areq_cancel(void *impl, const char *id, const char *key_id, int64_t now);
int sq_areq_sweep(void *impl, int64_t now, int *count);

/* store_sqlite_webhooks.c */
int sq_hook_key_get(void *impl, const char *key_id, const char *candidate, char *url,
                    size_t url_len, char *secret);
int sq_hook_key_set(void *impl, const char *key_id, const char *url, const char *secret,
                    int rotate);
int sq_hook_due(void *impl, double now, int limit, store_hook_t **out, size_t *n);
int sq_hook_result(void *impl, int64_t id, int delivered, int http, const char *error,
                   double next_at);
int sq_hook_list(void *impl, const char *key_id, store_hook_t **out, size_t *n);
/* Inside a transaction: queues the delivery of a finished request when it has a webhook URL. */
int sq_hook_enqueue_tx(sq_t *q, const char *request_id, const char *hook_body, int64_t now);

#endif
