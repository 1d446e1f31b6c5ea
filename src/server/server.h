/* server.h - the HTTP server: start it on a configuration, stop it gracefully. */
#ifndef IMGAPI_SERVER_SERVER_H
#define IMGAPI_SERVER_SERVER_H
#include "common/log.h"
#include "config/config.h"
#include "queue/queue.h"
#include "queue/registry.h"
#include "store/store.h"

typedef struct server server_t;

/* Starts listening (the store, registry are borrowed and must outlive the server). The queue
 * and workers are owned by the server; runner (NULL: the local models) runs their jobs, e.g. on
 * worker processes (queue/pgqueue.h). On failure writes a reason into err. */
int server_start(const config_t *cfg, store_t *store, registry_t *models,
                 const job_runner_t *runner, const log_sink_t *log, server_t **out, char *err,
                 size_t errlen);
/* The port actually bound (useful with port 0). */
int server_port(const server_t *s);
/* Graceful stop: stop accepting, let running jobs finish for up to the grace period, cancel the
 * rest (their reservations are released), close connections, join threads, free. */
void server_stop(server_t *s);

#endif
