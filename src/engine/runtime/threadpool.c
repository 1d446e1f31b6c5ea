/* threadpool.c - generation-counted work distribution over a condition variable. */
#include "engine/runtime/threadpool.h"
#include "common/status.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    pthread_t *threads;
    int nthreads; /* including the caller */
    int nworkers_started;
    unsigned long generation;
    int stopping;
    /* the current loop */
    pool_fn fn;
    void *ctx;
    int ntasks;
    atomic_int next;
    int active; /* workers still inside the current loop */
};

typedef struct {
    pool_t *p;
    int index;
} worker_arg_t;

static void run_tasks(pool_t *p, int thread) {
    for (;;) {
        int t = atomic_fetch_add(&p->next, 1);
        if (t >= p->ntasks) break;
        p->fn(p->ctx, t, thread);
    }
}

static void *worker(void *arg) {
    worker_arg_t *wa = arg;
    pool_t *p = wa->p;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->generation == seen && !p->stopping) pthread_cond_wait(&p->start, &p->mu);
        if (p->stopping) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, index);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int pool_create(int nthreads, pool_t **out) {
    if (nthreads < 1) nthreads = 1;
    pool_t *p = calloc(1, sizeof *p);
    if (!p) return IMG_ENOMEM;
    p->threads = calloc((size_t)nthreads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return IMG_ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->nthreads = 1;
    for (int i = 1; i < nthreads; i++) {
        worker_arg_t *wa = malloc(sizeof *wa);
        if (!wa) break;
        wa->p = p;
        wa->index = i;
        if (pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
            free(wa);
            break;
        }
        p->nthreads++;
    }
    *out = p;
    return IMG_OK;
}

void pool_free(pool_t *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int pool_threads(const pool_t *p) { return p ? p->nthreads : 1; }

void pool_run(pool_t *p, int ntasks, pool_fn fn, void *ctx) {
    if (ntasks <= 0) return;
    if (!p || p->nthreads == 1 || ntasks == 1) {
        for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    atomic_store(&p->next, 0);
    p->active = p->nthreads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->active > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
