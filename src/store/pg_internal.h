/* pg_internal.h - what the PostgreSQL backend's source files share (pg_conn.c: connections,
 * statements, transactions, schema migrations; store_pg.c: keys and the ledger;
 * store_pg_requests.c: asynchronous requests and webhooks). Not for use outside src/store.
 *
 * Several processes share one database, so everything that the SQLite backend may assume about
 * being alone is scoped here by an instance: each open store registers a row in `instances` and
 * refreshes its heartbeat; reservations, in-progress idempotency records and running requests
 * name the instance that holds them, and only those of instances whose heartbeat stopped are
 * released as orphans. */
#ifndef IMGAPI_STORE_PG_INTERNAL_H
#define IMGAPI_STORE_PG_INTERNAL_H
#include "store/store.h"
#include <libpq-fe.h>
#include <pthread.h>

#define PG_POOL_MAX 8
/* An instance whose heartbeat is older than this is dead: what it held is released. */
#define PG_INSTANCE_TIMEOUT_S 30
#define PG_HEARTBEAT_S 5

typedef struct {
    char conninfo[1024];
    char instance[40]; /* this store's instance id ("inst_" + 16 hex) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn *conns[PG_POOL_MAX]; /* owned; NULL until first needed */
    int busy[PG_POOL_MAX];
    int busy_ms;    /* lock_timeout of every transaction */
    pthread_t beat; /* the heartbeat thread */
    pthread_cond_t beat_cv;
    int beat_started, stopping;
} pg_t;

/* One borrowed connection (pg_get/pg_put). */
typedef struct {
    pg_t *p;
    int slot;
    PGconn *c;
} pg_conn_t;

/* Borrows a connection (connecting or reconnecting as needed): IMG_OK or IMG_ESTORE. */
int pg_get(pg_t *p, pg_conn_t *out);
void pg_put(pg_conn_t *c);
/* Runs one statement with text parameters. Returns the result (caller PQclear's) when it
 * succeeded, else NULL. */
PGresult *pg_query(pg_conn_t *c, const char *sql, int n, const char *const *vals);
/* Runs a statement that returns no rows: IMG_OK or IMG_ESTORE; *changed (may be NULL) gets the
 * number of rows it touched. */
int pg_cmd(pg_conn_t *c, const char *sql, int n, const char *const *vals, long *changed);
/* A transaction on a borrowed connection: pg_begin borrows and BEGINs; pg_end COMMITs when
 * rc == IMG_OK (else ROLLBACK), returns the connection and the final status. */
int pg_begin(pg_t *p, pg_conn_t *c);
int pg_end(pg_conn_t *c, int rc);
/* Decimal text of an integer / double, in a caller's buffer. */
const char *pg_i64(char buf[24], int64_t v);
const char *pg_f64(char buf[32], double v);
/* Copies a text column ("" when NULL). */
void pg_text(const PGresult *r, int row, int col, char *dst, size_t len);
int64_t pg_int(const PGresult *r, int row, int col);
/* malloc'd copy of a text column, NULL when it is NULL; *oom set when the copy failed. */
char *pg_dup(const PGresult *r, int row, int col, int *oom);

/* pg_conn.c: brings the schema up to date (versioned migrations under an advisory lock),
 * registers this instance and starts its heartbeat. */
int pg_setup(pg_t *p, char *err, size_t errlen);
void pg_shutdown(pg_t *p);
/* Releases what instances whose heartbeat stopped hold (see pg_conn.c); *count: reservations. */
int pg_release_dead(pg_t *p, int *count);

/* store_pg.c: inside a transaction: moves the job's reservation to charged and records usage
 * (u may be NULL; key_id gets the reservation's key); returns the reservation to the balance.
 * IMG_ENOTFOUND: none held. */
int pg_charge_tx(pg_conn_t *c, const char *job_id, const store_usage_t *u, char key_id[64]);
int pg_release_tx(pg_conn_t *c, const char *job_id);

/* store_pg_requests.c */
int pg_areq_insert(void *impl, const store_areq_t *a);
int pg_areq_get(void *impl, const char *id, int64_t now, int payload, store_areq_t *out);
int pg_areq_queued(void *impl, store_areq_t **out, size_t *n);
int pg_areq_start(void *impl, const char *id);
int pg_areq_complete(void *impl, const char *id, const store_usage_t *u, const char *output,
                     double seconds, int64_t now, const char *hook_body);
int pg_areq_fail(void *impl, const char *id, const char *code, const char *message, double seconds,
                 int64_t now, const char *hook_body);
int pg_areq_cancel(void *impl, const char *id, const char *key_id, int64_t now);
int pg_areq_sweep(void *impl, int64_t now, int *count);
int pg_hook_key_get(void *impl, const char *key_id, const char *candidate, char *url,
                    size_t url_len, char *secret);
int pg_hook_key_set(void *impl, const char *key_id, const char *url, const char *secret,
                    int rotate);
int pg_hook_due(void *impl, double now, int limit, store_hook_t **out, size_t *n);
int pg_hook_result(void *impl, int64_t id, int delivered, int http, const char *error,
                   double next_at);
int pg_hook_list(void *impl, const char *key_id, store_hook_t **out, size_t *n);

#endif
