/* ratelimit.c - in-memory limiter state, one entry per key seen since start. */
#include "server/ratelimit.h"
#include "common/status.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char key[32];
    double tokens, last;
    int inflight;
    struct entry *next;
} entry_t;

#define RL_BUCKETS 256

struct ratelimit {
    pthread_mutex_t mu;
    entry_t *buckets[RL_BUCKETS];
};

int ratelimit_create(ratelimit_t **out) {
    ratelimit_t *r = calloc(1, sizeof *r);
    if (!r) return IMG_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return IMG_OK;
}

void ratelimit_free(ratelimit_t *r) {
    if (!r) return;
    for (int i = 0; i < RL_BUCKETS; i++) {
        entry_t *e = r->buckets[i];
        while (e) {
            entry_t *n = e->next;
            free(e);
            e = n;
        }
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static unsigned hash(const char *s) {
    unsigned h = 2166136261u;
    while (*s) h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % RL_BUCKETS;
}

static entry_t *get(ratelimit_t *r, const char *key, int rpm, double now) {
    unsigned h = hash(key);
    for (entry_t *e = r->buckets[h]; e; e = e->next)
        if (strcmp(e->key, key) == 0) return e;
    entry_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    strncpy(e->key, key, sizeof e->key - 1);
    e->tokens = rpm;
    e->last = now;
    e->next = r->buckets[h];
    r->buckets[h] = e;
    return e;
}

void ratelimit_acquire(ratelimit_t *r, const char *key, int rpm, int concurrency, double now,
                       rl_result_t *res) {
    memset(res, 0, sizeof *res);
    res->limit = rpm;
    pthread_mutex_lock(&r->mu);
    entry_t *e = get(r, key, rpm, now);
    if (!e) {
        pthread_mutex_unlock(&r->mu);
        res->retry_after = 1;
        return;
    }
    double rate = rpm / 60.0;
    e->tokens = fmin((double)rpm, e->tokens + (now - e->last) * rate);
    e->last = now;
    if (e->tokens < 1.0) {
        res->retry_after = (1.0 - e->tokens) / rate;
    } else if (e->inflight >= concurrency) {
        res->over_concurrency = 1;
        res->retry_after = 1;
    } else {
        e->tokens -= 1.0;
        e->inflight++;
        res->allowed = 1;
    }
    res->remaining = (int)floor(e->tokens);
    res->reset_seconds = (rpm - e->tokens) / rate;
    pthread_mutex_unlock(&r->mu);
}

void ratelimit_release(ratelimit_t *r, const char *key) {
    pthread_mutex_lock(&r->mu);
    for (entry_t *e = r->buckets[hash(key)]; e; e = e->next)
        if (strcmp(e->key, key) == 0 && e->inflight > 0) {
            e->inflight--;
            break;
        }
    pthread_mutex_unlock(&r->mu);
}
