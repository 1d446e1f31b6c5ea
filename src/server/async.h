/* async.h - asynchronous requests (SPEC §10): jobs submitted through POST /v2/{model} run on the
 * same queue and workers as synchronous ones; a settler thread records their outcome in the
 * store (charge on COMPLETED, release on FAILED/cancelled/expired) and sweeps expired results.
 * Requests live in the store, so a restart resumes the queued ones. */
#ifndef IMGAPI_SERVER_ASYNC_H
#define IMGAPI_SERVER_ASYNC_H
#include "api/params.h"
#include "queue/queue.h"
#include <stddef.h>
#include <stdint.h>

typedef struct server server_t;
typedef struct async async_t;

/* What the settler needs to know about an admitted request besides its job. */
typedef struct {
    char id[40];
    char key_id[24];
    char model[64];
    char route[32];
    api_size_t size;
    api_quality_t quality;
    api_background_t background;
    api_format_t format;
    int n;
    int64_t cost;
    int limit_held; /* the key's concurrency slot is released when it ends */
    int webhook;    /* the request has a webhook_url: queue its delivery when it ends */
} async_meta_t;

/* Starts the settler and resumes the store's QUEUED requests (their jobs are recreated from the
 * stored bodies and seeds). On failure writes a reason into err. */
int async_create(server_t *s, async_t **out, char *err, size_t errlen);
/* Hands an admitted, stored request's job to the settler (takes the caller's job reference).
 * submitted: the job is already in the queue (0: the settler queues it when there is room). */
int async_track(async_t *a, const async_meta_t *meta, job_t *job, int submitted);
/* Cancels the request if no worker has started it: IMG_OK (its job will not run), IMG_EBUSY
 * (running or over), IMG_ENOTFOUND (not tracked, or another key's). */
int async_cancel(async_t *a, const char *id, const char *key_id);
/* Jobs tracked that a worker has started and not finished. */
int async_running(async_t *a);
/* Stops the settler: running jobs are cancelled and settled as FAILED; queued ones stay QUEUED
 * in the store for the next start. Frees. */
void async_stop(async_t *a);

#endif
