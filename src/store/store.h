/* store.h - keys, ledger, usage and idempotency behind one interface.
 *
 * Every backend (SQLite: one process; PostgreSQL: several gateways and workers) implements
 * store_ops_t; callers only use the store_* functions below. Money is integer micro-dollars. The
 * ledger invariant each backend keeps in single transactions: granted == balance + reserved +
 * charged, per key. All functions return IMG_OK or a negative img_status_t; none prints. */
#ifndef IMGAPI_STORE_STORE_H
#define IMGAPI_STORE_STORE_H
#include <stddef.h>
#include <stdint.h>

#define STORE_KEY_ID_LEN 20 /* "key_" + 16 hex */
#define STORE_SECRET_LEN 67 /* "sk-" + 16 hex id + 48 hex secret */
/* The most a key may be granted over its life, in micro-dollars ($1,000,000,000): every balance,
 * reservation and charge is bounded by it, so no ledger sum can overflow 64 bits. */
#define STORE_MAX_GRANTED_MICRO 1000000000000000LL

typedef struct store store_t;

typedef struct {
    char id[STORE_KEY_ID_LEN + 1];
    int64_t granted, balance, reserved, charged; /* micro-dollars */
    int rpm;                                     /* requests per minute, 0 = server default */
    int concurrency;                             /* concurrent jobs, 0 = server default */
    char models[512];                            /* comma-separated allow list, "" = every model */
    int revoked;
    int64_t created; /* unix seconds */
} store_key_t;

typedef struct {
    const char *key_id, *request_id, *route, *model, *quality, *size;
    int n;
    int64_t cost;
} store_usage_t;

typedef struct {
    int status; /* HTTP status of the recorded answer, 0 while in progress */
    char body_hash[65];
    char *body;      /* malloc'd response body (caller frees), NULL while in progress */
    int64_t charged; /* micro-dollars charged for it */
} store_idem_t;

/* Asynchronous requests (SPEC §10): the submitted body and its outcome, kept until expires. */
typedef enum { AREQ_QUEUED = 0, AREQ_PROCESSING, AREQ_COMPLETED, AREQ_FAILED } store_areq_status_t;

typedef struct {
    char id[40];
    char key_id[STORE_KEY_ID_LEN + 1];
    char model[64];
    char route[32]; /* route label of the submission (usage rows) */
    char *body;     /* the submitted JSON; borrowed on insert, malloc'd by areq_get/queued */
    uint32_t seed;  /* resolved at submission, so a resumed request draws the same image */
    int64_t cost;   /* micro-dollars reserved under the request id */
    int status;     /* store_areq_status_t */
    int64_t created, ttl, expires; /* unix seconds; readable while now < expires */
    double inference_time;
    char *output; /* COMPLETED: the synchronous route's response JSON (malloc'd) */
    char error_code[48];
    char error_message[256];
    char webhook_url[512]; /* "" = none; signed with the key's webhook secret on COMPLETED/FAILED */
} store_areq_t;

/* A webhook delivery: the payload of one finished asynchronous request for one URL. */
typedef enum { HOOK_PENDING = 0, HOOK_DELIVERED, HOOK_GAVE_UP } store_hook_status_t;

typedef struct {
    int64_t id;
    char request_id[40];
    char key_id[STORE_KEY_ID_LEN + 1];
    char url[512];
    char *body; /* malloc'd by hook_due (NULL in hook_list) */
    int attempts;
    int status;    /* store_hook_status_t */
    int last_http; /* last HTTP status, 0 when none came back */
    char last_error[160];
    double next_at; /* unix seconds of the next attempt */
    int64_t created;
} store_hook_t;

#define STORE_HOOK_SECRET_LEN 70 /* "whsec_" + 64 hex */

typedef struct {
    int (*ping)(void *impl);
    void (*close)(void *impl);
    int (*key_insert)(void *impl, const store_key_t *k, const uint8_t hash[32]);
    int (*key_get)(void *impl, const char *id, store_key_t *out, uint8_t hash[32]);
    int (*key_list)(void *impl, store_key_t **out, size_t *n);
    int (*key_revoke)(void *impl, const char *id);
    int (*grant)(void *impl, const char *id, int64_t micro);
    int (*reserve)(void *impl, const char *key_id, const char *job_id, int64_t micro);
    int (*charge)(void *impl, const char *job_id, const store_usage_t *u, const char *idem_key,
                  int idem_status, const char *idem_body);
    int (*release)(void *impl, const char *job_id);
    int (*release_orphans)(void *impl, int *count);
    int (*idem_begin)(void *impl, const char *key_id, const char *idem_key, const char *hash,
                      int64_t now, int64_t ttl, store_idem_t *existing);
    int (*idem_finish)(void *impl, const char *key_id, const char *idem_key, int status,
                       const char *body);
    int (*idem_abandon)(void *impl, const char *key_id, const char *idem_key);
    int (*usage_count)(void *impl, const char *key_id, int64_t *requests, int64_t *images);
    int (*areq_insert)(void *impl, const store_areq_t *a);
    int (*areq_get)(void *impl, const char *id, int64_t now, int payload, store_areq_t *out);
    int (*areq_queued)(void *impl, store_areq_t **out, size_t *n);
    int (*areq_start)(void *impl, const char *id);
    int (*areq_complete)(void *impl, const char *id, const store_usage_t *u, const char *output,
                         double seconds, int64_t now, const char *hook_body);
    int (*areq_fail)(void *impl, const char *id, const char *code, const char *message,
                     double seconds, int64_t now, const char *hook_body);
    int (*areq_cancel)(void *impl, const char *id, const char *key_id, int64_t now);
    int (*areq_sweep)(void *impl, int64_t now, int *count);
    int (*hook_key_get)(void *impl, const char *key_id, const char *candidate, char *url,
                        size_t url_len, char *secret);
    int (*hook_key_set)(void *impl, const char *key_id, const char *url, const char *secret,
                        int rotate);
    int (*hook_due)(void *impl, double now, int limit, store_hook_t **out, size_t *n);
    int (*hook_result)(void *impl, int64_t id, int delivered, int http, const char *error,
                       double next_at);
    int (*hook_list)(void *impl, const char *key_id, store_hook_t **out, size_t *n);
    /* NULL when one process owns the store (its own limiter is exact) */
    int (*limits_take)(void *impl, const char *key_id, int rpm, int concurrency,
                       double *retry_after, int *over_concurrency);
} store_ops_t;

/* Opens a store: a path (SQLite file, created with its schema) or a postgres:// (postgresql://)
 * URL (schema migrated to this version at open).
 * busy_ms: how long a write waits for another writer's lock before failing with IMG_ESTORE.
 * On failure returns an error and writes a reason into err. Free with store_close. */
int store_open(const char *where, int busy_ms, store_t **out, char *err, size_t errlen);
void store_close(store_t *s);
int store_ping(store_t *s);

/* Creates a key with the given settings (granted credits, rpm, concurrency, models in tmpl).
 * Writes the new key's id and its secret (shown once, never stored) into the out buffers. */
int store_key_create(store_t *s, const store_key_t *tmpl, char id_out[STORE_KEY_ID_LEN + 1],
                     char secret_out[STORE_SECRET_LEN + 1]);
/* Checks a presented secret: IMG_OK (fills *out), IMG_ENOTFOUND (unknown or malformed) or
 * IMG_EDENIED (revoked; *out is still filled). Comparison is constant-time. */
int store_key_authenticate(store_t *s, const char *secret, store_key_t *out);
/* Finds a key by id or by its secret. */
int store_key_get(store_t *s, const char *id_or_secret, store_key_t *out);
/* Lists keys into a malloc'd array the caller frees. */
int store_key_list(store_t *s, store_key_t **out, size_t *n);
int store_key_revoke(store_t *s, const char *id_or_secret);
int store_credits_grant(store_t *s, const char *id_or_secret, int64_t micro);
/* (store_credits_grant: IMG_ERANGE when the key's granted total would pass STORE_MAX_GRANTED_MICRO.) */
/* Moves micro from balance to reserved under job_id; IMG_ECREDITS when the balance is short. */
int store_reserve(store_t *s, const char *key_id, const char *job_id, int64_t micro);
/* Moves the job's reservation to charged, records usage and (when idem_key) the answer. */
int store_charge(store_t *s, const char *job_id, const store_usage_t *u, const char *idem_key,
                 int idem_status, const char *idem_body);
/* Returns the job's reservation to the balance. IMG_ENOTFOUND when it has none. */
int store_release(store_t *s, const char *job_id);
/* Releases every reservation (run at start-up: their jobs died with the previous process), except
 * those of QUEUED asynchronous requests, which the new process resumes; PROCESSING ones FAIL.
 * PostgreSQL, shared by several processes: only what dead instances (heartbeat stopped) hold. */
int store_release_orphans(store_t *s, int *count);
/* Starts an idempotent request. IMG_OK: new, the caller runs it. IMG_EEXIST: *existing holds the
 * earlier record (status 0 = still running). IMG_EINVAL: same key, different body. */
int store_idem_begin(store_t *s, const char *key_id, const char *idem_key, const char *hash,
                     int64_t now, int64_t ttl, store_idem_t *existing);
int store_idem_finish(store_t *s, const char *key_id, const char *idem_key, int status,
                      const char *body);
int store_idem_abandon(store_t *s, const char *key_id, const char *idem_key);
int store_usage_count(store_t *s, const char *key_id, int64_t *requests, int64_t *images);

/* Asynchronous requests. The request's credits are reserved under its id (store_reserve) before
 * it is inserted; every transition below settles them in the same transaction. */
int store_areq_insert(store_t *s, const store_areq_t *a);
/* Reads one request; IMG_ENOTFOUND when unknown or expired. payload: also body and output. */
int store_areq_get(store_t *s, const char *id, int64_t now, int payload, store_areq_t *out);
/* Every QUEUED request, oldest first, with bodies (a restart resumes them); caller frees each
 * with store_areq_clear and the array with free. */
int store_areq_queued(store_t *s, store_areq_t **out, size_t *n);
/* QUEUED -> PROCESSING. */
int store_areq_start(store_t *s, const char *id);
/* -> COMPLETED: charges the reservation, records usage and the output, and (hook_body, when the
 * request has a webhook_url) queues its webhook delivery, all in one transaction. IMG_ENOTFOUND
 * when the request expired meanwhile (nothing charged). */
int store_areq_complete(store_t *s, const char *id, const store_usage_t *u, const char *output,
                        double seconds, int64_t now, const char *hook_body);
/* -> FAILED: releases the reservation and records the error (an expired request stays expired);
 * queues the webhook delivery like areq_complete. */
int store_areq_fail(store_t *s, const char *id, const char *code, const char *message,
                    double seconds, int64_t now, const char *hook_body);
/* Cancels a QUEUED request of this key: released, FAILED with code request_cancelled.
 * IMG_ENOTFOUND: no such request for this key; IMG_EBUSY: it has started or ended. */
int store_areq_cancel(store_t *s, const char *id, const char *key_id, int64_t now);
/* Deletes requests past their expiry, releasing what they still hold. */
int store_areq_sweep(store_t *s, int64_t now, int *count);
/* Webhooks. A key's registered URL ("" = none) and its signing secret (created when missing;
 * secret is STORE_HOOK_SECRET_LEN + 1 bytes). IMG_ENOTFOUND: no such key. */
int store_hook_key_get(store_t *s, const char *key_id, char *url, size_t url_len, char *secret);
/* Registers (url) or clears ("") a key's webhook URL (NULL: keeps it); rotate: a new secret. */
int store_hook_key_set(store_t *s, const char *key_id, const char *url, int rotate);
/* Pending deliveries due at now, oldest first (at most limit); free with store_hook_free. */
int store_hook_due(store_t *s, double now, int limit, store_hook_t **out, size_t *n);
/* Records an attempt: delivered, or failed with next_at (< 0: given up). */
int store_hook_result(store_t *s, int64_t id, int delivered, int http, const char *error,
                      double next_at);
/* The delivery log (newest first; key_id NULL = every key), bodies not loaded. */
int store_hook_list(store_t *s, const char *key_id, store_hook_t **out, size_t *n);
void store_hook_free(store_hook_t *h, size_t n);

/* Per-key limits shared by every gateway of a PostgreSQL store (SQLite: always IMG_OK, the
 * server's own limiter is exact for one process). Counts one request in the key's window of the
 * database's current minute unless rpm are counted there already, and refuses when the key has
 * `concurrency` reservations held anywhere. IMG_EBUSY: refused (*retry_after seconds,
 * *over_concurrency says which limit); IMG_ESTORE. The windows are fixed minutes: any 60 s span
 * sees at most 2 x rpm; gateways checking at the same instant may each admit one concurrent
 * request past the limit (at most gateways - 1 over it). */
int store_limits_take(store_t *s, const char *key_id, int rpm, int concurrency, double *retry_after,
                      int *over_concurrency);

/* Frees what areq_get/areq_queued allocated inside *a. */
void store_areq_clear(store_areq_t *a);
const char *store_areq_status_name(int status);

/* Does the key allow this model? (empty allow list = every model) */
int store_key_allows(const store_key_t *k, const char *model);

/* Backends */
int store_sqlite_open(const char *path, int busy_ms, const store_ops_t **ops, void **impl,
                      char *err, size_t errlen);
int store_pg_open(const char *url, int busy_ms, const store_ops_t **ops, void **impl, char *err,
                  size_t errlen);

#endif
