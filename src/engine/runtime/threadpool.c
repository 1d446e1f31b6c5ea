/* threadpool.c - generation-counted work distribution. A new loop is published by bumping an
 * atomic generation; idle workers spin on it for a short while before sleeping on a condition
 * variable, and the caller spins the same way for the last worker to finish. A UNet step of a
 * small model is hundreds of loops of tens of microseconds each, where a futex sleep and wake per
 * loop cost more than the loop itself; long idle periods still end in a sleep, not a busy core. */
#include "engine/runtime/threadpool.h"
#include "common/status.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* how long a thread spins for the next event before it sleeps */
#define SPIN_NS 200000L

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    pthread_t *threads;
    int nthreads; /* including the caller */
    atomic_ulong generation;
    atomic_int stopping;
    int sleepers;       /* workers waiting on start (under mu) */
    int caller_waiting; /* the caller waits on done (under mu) */
    /* the current loop: written by the caller before the generation is bumped */
    pool_fn fn;
    void *ctx;
    int ntasks;
    atomic_int next;
    atomic_int active; /* workers still inside the current loop */
};

typedef struct {
    pool_t *p;
    int index;
} worker_arg_t;

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void run_tasks(pool_t *p, int thread) {
    for (;;) {
        int t = atomic_fetch_add(&p->next, 1);
        if (t >= p->ntasks) break;
        p->fn(p->ctx, t, thread);
    }
}

/* One turn of a spin-wait: 1 once it has spun SPIN_NS (the caller then sleeps). *deadline
 * starts at 0. */
static int spun_out(unsigned spins, long *deadline) {
    cpu_relax();
    if ((spins & 63) != 63) return 0; /* look at the clock every 64 turns */
    long t = now_ns();
    if (!*deadline) *deadline = t + SPIN_NS;
    return t >= *deadline;
}

/* Returns the generation after `seen` once it is published, or seen when stopping. */
static unsigned long wait_generation(pool_t *p, unsigned long seen) {
    long deadline = 0;
    for (unsigned spins = 0;; spins++) {
        unsigned long g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load(&p->stopping)) return g;
        if (!spun_out(spins, &deadline)) continue;
        pthread_mutex_lock(&p->mu);
        p->sleepers++;
        while (atomic_load(&p->generation) == seen && !atomic_load(&p->stopping))
            pthread_cond_wait(&p->start, &p->mu);
        p->sleepers--;
        pthread_mutex_unlock(&p->mu);
        deadline = 0;
    }
}

static void *worker(void *arg) {
    worker_arg_t *wa = arg;
    pool_t *p = wa->p;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        seen = wait_generation(p, seen);
        if (atomic_load(&p->stopping)) break;
        run_tasks(p, index);
        if (atomic_fetch_sub_explicit(&p->active, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            if (p->caller_waiting) pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

int pool_create(int nthreads, pool_t **out) {
    if (nthreads < 1) nthreads = 1;
    pool_t *p = calloc(1, sizeof *p); /* owned by the caller: pool_free */
    if (!p) return IMG_ENOMEM;
    p->threads = calloc((size_t)nthreads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return IMG_ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->stopping, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->active, 0);
    p->nthreads = 1;
    for (int i = 1; i < nthreads; i++) {
        worker_arg_t *wa = malloc(sizeof *wa); /* freed by the worker */
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
    atomic_store(&p->stopping, 1);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int pool_threads(const pool_t *p) {
    return p ? p->nthreads : 1;
}

void pool_run(pool_t *p, int ntasks, pool_fn fn, void *ctx) {
    if (ntasks <= 0) return;
    if (!p || p->nthreads == 1 || ntasks == 1) {
        for (int t = 0; t < ntasks; t++)
            fn(ctx, t, 0);
        return;
    }
    /* every worker has left the previous loop (active reached 0), so these plain stores race
     * with nobody; the release store of the generation publishes them */
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->active, p->nthreads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_seq_cst);
    /* a worker that checked the generation under mu before this bump is asleep and counted */
    pthread_mutex_lock(&p->mu);
    if (p->sleepers) pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    long deadline = 0;
    for (unsigned spins = 0; atomic_load_explicit(&p->active, memory_order_acquire) > 0; spins++) {
        if (!spun_out(spins, &deadline)) continue;
        pthread_mutex_lock(&p->mu);
        p->caller_waiting = 1;
        while (atomic_load(&p->active) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        p->caller_waiting = 0;
        pthread_mutex_unlock(&p->mu);
        break;
    }
}
