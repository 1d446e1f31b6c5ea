/* threadpool.h - a fixed pool of threads that run parallel-for loops; the caller takes part. */
#ifndef IMGAPI_ENGINE_RUNTIME_THREADPOOL_H
#define IMGAPI_ENGINE_RUNTIME_THREADPOOL_H

typedef struct pool pool_t;
typedef void (*pool_fn)(void *ctx, int task, int thread);

/* nthreads counts the caller: 1 means no extra threads. */
int pool_create(int nthreads, pool_t **out);
void pool_free(pool_t *p);
int pool_threads(const pool_t *p);
/* Runs fn(ctx, t, thread) for every t in [0, ntasks), tasks handed out dynamically; returns when
 * all are done. Not reentrant: one pool_run at a time per pool (p may be NULL: runs inline). */
void pool_run(pool_t *p, int ntasks, pool_fn fn, void *ctx);

#endif
