/* pgqueue.h - the job queue between gateways and workers, in PostgreSQL.
 *
 * A gateway's queue threads run their jobs through pgq_runner: the job is inserted in `jobs`
 * (NOTIFY imgapi_jobs), and the thread waits (LISTEN imgapi_done, with a poll as a fallback)
 * until a worker has written the result, then reads the images back. A worker's threads claim
 * jobs with FOR UPDATE SKIP LOCKED, preferring jobs whose model they have loaded (a job waits
 * route_grace_ms for a worker that has its model loaded before any worker takes it), run them on
 * the worker's local queue and renew their lease while they run. A job whose lease runs out (the
 * worker died) goes back to the queue once; the second time it fails, and the gateway answers
 * 502 and releases the credits. Only gateways settle the ledger, so a job is never charged
 * twice. The tables are created by the store's migrations (store/pg_conn.c). */
#ifndef IMGAPI_QUEUE_PGQUEUE_H
#define IMGAPI_QUEUE_PGQUEUE_H
#include "queue/queue.h"
#include "queue/registry.h"

typedef struct pgqueue pgqueue_t;

typedef struct {
    const char *url;    /* postgres://... */
    int lease_seconds;  /* a claimed job is the worker's this long after each renewal */
    int route_grace_ms; /* how long a job waits for a worker that has its model loaded */
} pgq_opts_t;

/* A gateway's side: jobs go to workers. Use pgq_runner's runner in queue_create_with. */
int pgq_gateway_create(const pgq_opts_t *o, pgqueue_t **out, char *err, size_t errlen);
job_runner_t pgq_runner(pgqueue_t *q);
/* A worker's side: `slots` threads claim jobs that models can serve and run them on local
 * (a queue of the local models with at least `slots` workers and capacity). */
int pgq_worker_start(const pgq_opts_t *o, registry_t *models, queue_t *local, int slots,
                     pgqueue_t **out, char *err, size_t errlen);
/* The worker's id in the workers table ("wrk_" + hex). */
const char *pgq_worker_id(const pgqueue_t *q);
/* Stops the threads (a worker first finishes the jobs it runs) and frees. */
void pgq_free(pgqueue_t *q);

#endif
