/* registry.c - model list and lazy loading (one load per model, shared by all workers). */
#include "queue/registry.h"
#include "common/clock.h"
#include "common/status.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    model_profile_t profile;
    const gen_backend_t *backend;
    void *model; /* NULL until loaded */
    int busy;    /* generations using it now */
    double last_used;
    int loads;   /* times loaded (tests, metrics) */
    long merges; /* adapter merges of the instances unloaded since (metrics) */
    double merge_seconds;
} entry_t;

/* Unloads e's model (r->mu held), keeping its adapter statistics. */
static void unload(entry_t *e) {
    if (e->backend->adapter_stats) {
        long m = 0;
        double s = 0;
        e->backend->adapter_stats(e->model, &m, &s);
        e->merges += m;
        e->merge_seconds += s;
    }
    e->backend->unload(e->model);
    e->model = NULL;
}

struct registry {
    entry_t *entries;
    size_t n;
    size_t default_index;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    const config_t *cfg;
    pthread_t reaper;
    int reaper_running, stopping;
    pthread_t preloader;
    int preloading; /* preloader was started: joined by registry_free */
    registry_preload_fn preload_done;
    void *preload_user;
};

/* Unloads models nobody has used for model_idle_seconds; wakes once a second. */
static void *reaper_main(void *arg) {
    registry_t *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        struct timespec until = clock_abs_after(1.0);
        pthread_cond_timedwait(&r->wake, &r->mu, &until);
        double now = clock_mono();
        for (size_t i = 0; i < r->n && !r->stopping; i++) {
            entry_t *e = &r->entries[i];
            if (e->model && !e->busy && now - e->last_used >= r->cfg->model_idle_seconds) unload(e);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int registry_create(const gen_backend_t *const *backends, size_t nbackends, const config_t *cfg,
                    registry_t **out, char *err, size_t errlen) {
    const char *default_model = cfg->default_model;
    registry_t *r = calloc(1, sizeof *r);
    if (!r) return IMG_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->wake, NULL);
    r->cfg = cfg;
    for (size_t b = 0; b < nbackends; b++) {
        model_profile_t *list = NULL;
        size_t n = 0;
        int rc = backends[b]->list(backends[b]->ctx, cfg, &list, &n, err, errlen);
        if (rc) {
            registry_free(r);
            return rc;
        }
        entry_t *e = realloc(r->entries, (r->n + n) * sizeof *e);
        if (!e && n) {
            free(list);
            registry_free(r);
            return IMG_ENOMEM;
        }
        r->entries = e;
        for (size_t i = 0; i < n; i++) {
            memset(&r->entries[r->n], 0, sizeof r->entries[r->n]);
            r->entries[r->n].profile = list[i];
            r->entries[r->n].backend = backends[b];
            r->n++;
        }
        free(list);
    }
    if (r->n == 0) {
        snprintf(err, errlen,
                 "no model is installed: add one to the configuration "
                 "(model.ID.checkpoint = FILE.safetensors and model.ID.tokenizer = PATH)");
        registry_free(r);
        return IMG_ENOTFOUND;
    }
    r->default_index = 0;
    if (default_model && default_model[0]) {
        size_t i;
        for (i = 0; i < r->n; i++)
            if (strcmp(r->entries[i].profile.id, default_model) == 0) break;
        if (i == r->n) {
            snprintf(err, errlen, "the default model '%s' is not installed", default_model);
            registry_free(r);
            return IMG_ENOTFOUND;
        }
        r->default_index = i;
    }
    if (cfg->model_idle_seconds > 0 && pthread_create(&r->reaper, NULL, reaper_main, r) == 0)
        r->reaper_running = 1;
    *out = r;
    return IMG_OK;
}

void registry_free(registry_t *r) {
    if (!r) return;
    if (r->preloading) pthread_join(r->preloader, NULL); /* a load cannot be interrupted */
    if (r->reaper_running) {
        pthread_mutex_lock(&r->mu);
        r->stopping = 1;
        pthread_cond_broadcast(&r->wake);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->reaper, NULL);
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->entries[i].model) unload(&r->entries[i]);
    free(r->entries);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->wake);
    free(r);
}

size_t registry_count(const registry_t *r) { return r->n; }
const model_profile_t *registry_profile(const registry_t *r, size_t i) { return &r->entries[i].profile; }
const model_profile_t *registry_default(const registry_t *r) { return &r->entries[r->default_index].profile; }

static entry_t *find(const registry_t *r, const char *id) {
    if (strcmp(id, REGISTRY_ALIAS) == 0) return &r->entries[r->default_index];
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->entries[i].profile.id, id) == 0) return &r->entries[i];
    return NULL;
}

const model_profile_t *registry_find(const registry_t *r, const char *id) {
    entry_t *e = find(r, id);
    return e ? &e->profile : NULL;
}

int registry_acquire(registry_t *r, const char *id, const gen_backend_t **backend, void **model,
                     gen_load_progress_fn progress, void *user, char *err, size_t errlen) {
    entry_t *e = find(r, id);
    if (!e) {
        snprintf(err, errlen, "model '%s' is not installed", id);
        return IMG_ENOTFOUND;
    }
    pthread_mutex_lock(&r->mu);
    int rc = IMG_OK;
    if (!e->model) {
        rc = e->backend->load(e->backend->ctx, r->cfg, e->profile.id, &e->model, progress, user,
                              err, errlen);
        if (rc == IMG_OK) e->loads++;
    }
    if (rc == IMG_OK) e->busy++;
    *backend = e->backend;
    *model = e->model;
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void registry_release(registry_t *r, const char *id) {
    entry_t *e = find(r, id);
    if (!e) return;
    pthread_mutex_lock(&r->mu);
    if (e->busy > 0) e->busy--;
    e->last_used = clock_mono();
    pthread_mutex_unlock(&r->mu);
}

static void *preload_main(void *arg) {
    registry_t *r = arg;
    const gen_backend_t *backend;
    void *model;
    char err[512] = "";
    const char *id = r->entries[r->default_index].profile.id;
    double t0 = clock_mono();
    int rc = registry_acquire(r, id, &backend, &model, NULL, NULL, err, sizeof err);
    if (rc == IMG_OK) registry_release(r, id);
    if (r->preload_done) r->preload_done(r->preload_user, id, rc, err, clock_mono() - t0);
    return NULL;
}

int registry_preload(registry_t *r, registry_preload_fn done, void *user) {
    if (r->preloading) return IMG_EINVAL;
    r->preload_done = done;
    r->preload_user = user;
    if (pthread_create(&r->preloader, NULL, preload_main, r)) return IMG_ENOMEM;
    r->preloading = 1;
    return IMG_OK;
}

int registry_state(registry_t *r, const char *id, int *loaded, int *loads) {
    entry_t *e = find(r, id);
    if (!e) return IMG_ENOTFOUND;
    pthread_mutex_lock(&r->mu);
    *loaded = e->model != NULL;
    *loads = e->loads;
    pthread_mutex_unlock(&r->mu);
    return IMG_OK;
}

int registry_ready(const registry_t *r) { return r && r->n > 0; }

void registry_adapter_stats(registry_t *r, long *merges, double *seconds) {
    *merges = 0;
    *seconds = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        entry_t *e = &r->entries[i];
        long m = 0;
        double s = 0;
        if (e->model && e->backend->adapter_stats) e->backend->adapter_stats(e->model, &m, &s);
        *merges += e->merges + m;
        *seconds += e->merge_seconds + s;
    }
    pthread_mutex_unlock(&r->mu);
}
