/* sender.h - delivers webhook payloads queued in the store: a thread of its own (workers never
 * wait for a receiver), HMAC-SHA256 signatures, retries with exponential backoff, the SSRF guard
 * applied to the address actually connected to, and every attempt recorded in the store. */
#ifndef IMGAPI_WEBHOOK_SENDER_H
#define IMGAPI_WEBHOOK_SENDER_H
#include "common/log.h"
#include "store/store.h"

typedef struct {
    int allow_private;   /* 1: loopback/private targets allowed (tests, internal deployments) */
    int max_attempts;    /* attempts before a delivery is given up */
    int retry_base_ms;   /* first retry after this, doubling each time */
    int timeout_seconds; /* per attempt */
} sender_opts_t;

typedef struct sender sender_t;

/* Starts the thread (store and log are borrowed). */
int sender_start(store_t *store, const sender_opts_t *opts, const log_sink_t *log, sender_t **out);
/* Wakes the thread (a delivery was queued). */
void sender_wake(sender_t *s);
/* Stops after the attempt in progress (pending deliveries stay in the store), frees. */
void sender_stop(sender_t *s);

/* The signature header value for a body: "sha256=" + hex HMAC-SHA256 under secret. */
void sender_sign(const char *secret, const char *body, size_t len, char out[72]);

#endif
