/* ratelimit.h - per-key token bucket (requests per minute) and concurrent-job counter. */
#ifndef IMGAPI_SERVER_RATELIMIT_H
#define IMGAPI_SERVER_RATELIMIT_H

typedef struct ratelimit ratelimit_t;

typedef struct {
    int allowed;          /* 1 when the request may go on (a concurrency slot is held) */
    int limit;            /* requests per minute */
    int remaining;        /* whole tokens left after this request */
    double reset_seconds; /* until the bucket is full again */
    double retry_after;   /* when not allowed: seconds until it would be */
    int over_concurrency; /* not allowed because of concurrent jobs */
} rl_result_t;

int ratelimit_create(ratelimit_t **out);
void ratelimit_free(ratelimit_t *r);
/* Takes one token and one concurrency slot for key, or neither. */
void ratelimit_acquire(ratelimit_t *r, const char *key, int rpm, int concurrency, double now,
                       rl_result_t *res);
/* Gives the concurrency slot back. */
void ratelimit_release(ratelimit_t *r, const char *key);

#endif
