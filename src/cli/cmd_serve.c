/* cmd_serve.c - `imgapi serve`: open the store, release orphaned reservations, load the model
 * registry, serve until SIGTERM/SIGINT, then stop gracefully. With --role gateway the jobs go to
 * worker processes through PostgreSQL; --role worker runs those jobs and serves no HTTP. */
#include "cli/cli.h"
#include "common/status.h"
#include "queue/pgqueue.h"
#include "server/server.h"
#include "store/store.h"
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Server log lines go to standard error with a UTC timestamp. */
static void log_stderr(void *user, const char *line) {
    (void)user;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s %s\n", ts, line);
}

static int has_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

/* The background load of the default model (preload_model) has ended. */
static void preload_logged(void *user, const char *id, int status, const char *reason,
                           double seconds) {
    (void)user;
    if (status == IMG_OK)
        fprintf(stderr, "imgapi: model '%s' loaded in %.1f s (preload_model)\n", id, seconds);
    else
        fprintf(stderr, "imgapi: could not preload model '%s': %s (it loads on first use)\n", id,
                reason);
}

int cmd_serve(int argc, char **argv, const cli_env_t *env) {
    config_t cfg;
    config_defaults(&cfg);
    if (has_help(argc, argv)) {
        printf("usage: imgapi serve [options]\n\n");
        config_print_help(stdout);
        return 0;
    }
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, &CLI_NO_OPTS, NULL, &cfg, NULL, pos, &npos, 0);
    if (rc) return rc;
    int gateway = !strcmp(cfg.role, "gateway"), worker = !strcmp(cfg.role, "worker");
    if (!gateway && !worker && strcmp(cfg.role, "all")) {
        fprintf(stderr, "imgapi: --role must be all, gateway or worker (got '%s')\n", cfg.role);
        return 2;
    }
    if ((gateway || worker) && strncmp(cfg.store, "postgres", 8)) {
        fprintf(stderr, "imgapi: --role %s needs a PostgreSQL store (--store postgres://...)\n",
                cfg.role);
        return 2;
    }

    /* Block the stop signals before any thread starts, so that only sigwait below sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    registry_t *models = NULL;
    if (registry_create(env->backends, env->nbackends, &cfg, &models, err, sizeof err)) {
        fprintf(stderr, "imgapi: cannot serve: %s\n", err);
        return 1;
    }
    store_t *store;
    if (cli_open_store(&cfg, &store)) {
        registry_free(models);
        return 1;
    }
    int orphans = 0;
    if (store_release_orphans(store, &orphans)) {
        fprintf(stderr, "imgapi: cannot release reservations left by a previous run\n");
        store_close(store);
        registry_free(models);
        return 1;
    }
    pgq_opts_t qo = {.url = cfg.store,
                     .lease_seconds = cfg.job_lease_seconds,
                     .route_grace_ms = cfg.route_grace_ms};
    pgqueue_t *jobs = NULL;
    queue_t *local = NULL;
    server_t *srv = NULL;
    log_sink_t log = {log_stderr, NULL};
    if (worker) {
        /* the local queue runs the claimed jobs: one slot per worker thread */
        rc = queue_create(models, cfg.workers, cfg.workers, &local);
        if (rc) snprintf(err, sizeof err, "cannot start the worker pool");
        if (!rc) rc = pgq_worker_start(&qo, models, local, cfg.workers, &jobs, err, sizeof err);
    } else {
        job_runner_t runner;
        if (gateway && !(rc = pgq_gateway_create(&qo, &jobs, err, sizeof err)))
            runner = pgq_runner(jobs);
        if (!rc)
            rc = server_start(&cfg, store, models, gateway ? &runner : NULL, &log, &srv, err,
                              sizeof err);
    }
    if (rc) {
        fprintf(stderr, "imgapi: %s\n", err);
        pgq_free(jobs);
        queue_free(local);
        store_close(store);
        registry_free(models);
        return 1;
    }
    if (worker)
        fprintf(stderr, "imgapi: worker %s serving %zu model(s) with %d slot(s) from %s\n",
                pgq_worker_id(jobs), registry_count(models), cfg.workers, "PostgreSQL");
    else
        fprintf(stderr, "imgapi: serving %zu model(s), default '%s', on http://%s (port %d)%s%s\n",
                registry_count(models), registry_default(models)->id, cfg.listen, server_port(srv),
                gateway ? "; jobs go to workers" : "",
                orphans ? "; released reservations of a previous run" : "");
    if (!gateway && cfg.preload_model && registry_preload(models, preload_logged, NULL))
        fprintf(stderr, "imgapi: cannot start loading the default model; it loads on first use\n");
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "imgapi: %s received, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server_stop(srv); /* a gateway's queue threads end before the job queue below */
    pgq_free(jobs);   /* a worker finishes the jobs it runs */
    queue_free(local);
    store_close(store);
    registry_free(models);
    fprintf(stderr, "imgapi: stopped\n");
    return 0;
}
