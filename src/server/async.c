/* async.c - the settler of asynchronous requests: queues, watches and settles their jobs. */
#include "server/async.h"
#include "api/request.h"
#include "common/clock.h"
#include "common/status.h"
#include "server/admit.h"
#include "server/edit_input.h"
#include "server/internal.h"
#include "webhook/sender.h"
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_NS 20000000L /* how often the settler looks at its jobs */
#define SWEEP_SECONDS 5.0 /* how often expired requests are deleted */

typedef struct entry {
    struct entry *next;
    job_t *job; /* one reference, the settler's */
    async_meta_t meta;
    int submitted; /* in the queue (or taken from it by a worker) */
    int started;   /* PROCESSING recorded in the store */
} entry_t;

struct async {
    server_t *srv;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    entry_t *head;
};

/* The webhook payload of a finished request (malloc'd; NULL when it has no webhook or on OOM):
 * {"request_id", "status", "output" (the sync response) | "error": {"message", "code"}}. */
static char *hook_body(const entry_t *e, const char *output, const char *code, const char *text) {
    if (!e->meta.webhook) return NULL;
    json_t *o = json_pack("{s:s, s:s}", "request_id", e->meta.id, "status", output ? "COMPLETED" : "FAILED");
    if (o && !output) json_object_set_new(o, "error", json_pack("{s:s, s:s}", "message", text, "code", code));
    char *head = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!head || !output) return head;
    size_t hl = strlen(head), ol = strlen(output);
    char *out = malloc(hl + ol + 16);
    if (out) snprintf(out, hl + ol + 16, "%.*s,\"output\":%s}", (int)(hl - 1), head, output);
    free(head);
    return out;
}

/* Records a finished job's outcome in the store, then frees the entry. */
static void settle(async_t *a, entry_t *e, const char *shutdown_reason) {
    server_t *s = a->srv;
    job_state_t st = job_state(e->job);
    double secs = job_run_seconds(e->job);
    int64_t now = clock_wall();
    if (st == JOB_DONE && !shutdown_reason) {
        char *out = admit_response_json(e->job, e->meta.size, e->meta.quality, e->meta.background,
                                        e->meta.format);
        store_usage_t u = {.key_id = e->meta.key_id,
                           .request_id = e->meta.id,
                           .route = e->meta.route,
                           .model = e->meta.model,
                           .quality = api_quality_name(e->meta.quality),
                           .size = api_size_name(e->meta.size),
                           .n = e->meta.n,
                           .cost = e->meta.cost};
        char *hook = out ? hook_body(e, out, NULL, NULL) : NULL;
        int rc = out && (hook || !e->meta.webhook)
                     ? store_areq_complete(s->store, e->meta.id, &u, out, secs, now, hook)
                     : IMG_ENOMEM;
        free(out);
        free(hook);
        if (rc == IMG_OK) {
            metrics_charged(s->metrics, e->meta.cost);
            metrics_job(s->metrics, "done", secs);
        } else if (rc != IMG_ENOTFOUND) { /* ENOTFOUND: it expired meanwhile, nothing was charged */
            log_line(&s->log, "async request %s: cannot record its result", e->meta.id);
            char *fh = hook_body(e, NULL, "internal_error", "The result could not be stored.");
            store_areq_fail(s->store, e->meta.id, "internal_error",
                            "The result could not be stored.", secs, now, fh);
            free(fh);
            metrics_job(s->metrics, "failed", secs);
        }
    } else {
        const char *msg = "";
        int err = st == JOB_DONE ? IMG_ECANCELLED : job_error(e->job, &msg);
        const char *code, *text;
        if (shutdown_reason) {
            code = "server_shutting_down";
            text = shutdown_reason;
        } else if (err == IMG_ETIMEDOUT && job_run_seconds(e->job) > 0) {
            code = "deadline_exceeded";
            text = "The request passed its deadline.";
        } else if (err == IMG_ETIMEDOUT) {
            code = "request_expired";
            text = "The request expired before it could run.";
        } else if (err == IMG_ECANCELLED) {
            code = "request_cancelled";
            text = "The request was cancelled before it started.";
        } else if (err == IMG_ENOMEM) {
            code = "internal_error";
            text = "The server ran out of memory.";
        } else {
            log_line(&s->log, "async request %s failed: %s", e->meta.id, msg);
            code = "generation_failed";
            text = "No worker could run the job: the model failed to load or generate.";
        }
        /* ENOTFOUND: already settled (a cancellation recorded it; the client asked, no hook) */
        char *fh = hook_body(e, NULL, code, text);
        store_areq_fail(s->store, e->meta.id, code, text, secs, now, fh);
        free(fh);
        metrics_job(s->metrics,
                    err == IMG_ETIMEDOUT    ? "timeout"
                    : err == IMG_ECANCELLED ? "cancelled"
                                            : "failed",
                    secs);
    }
    if (e->meta.webhook) sender_wake(s->hooks);
    if (e->meta.limit_held) ratelimit_release(s->limits, e->meta.key_id);
    job_release(e->job);
    free(e);
}

static void *settler(void *arg) {
    async_t *a = arg;
    server_t *s = a->srv;
    double next_sweep = 0;
    pthread_mutex_lock(&a->mu);
    while (!a->stopping) {
        entry_t *done = NULL, **pp = &a->head;
        while (*pp) {
            entry_t *e = *pp;
            if (!e->submitted) {
                int rc = queue_submit(s->queue, e->job);
                if (rc == IMG_OK)
                    e->submitted = 1;
                else if (rc != IMG_EBUSY)
                    break; /* shutting down: leave it QUEUED in the store */
            }
            job_state_t st = e->submitted ? job_state(e->job) : JOB_QUEUED;
            if (st == JOB_RUNNING && !e->started) {
                e->started = 1;
                store_areq_start(s->store, e->meta.id);
            }
            if (st >= JOB_DONE) {
                *pp = e->next;
                e->next = done;
                done = e;
            } else {
                pp = &e->next;
            }
        }
        pthread_mutex_unlock(&a->mu);
        while (done) {
            entry_t *e = done;
            done = e->next;
            settle(a, e, NULL);
        }
        if (clock_mono() >= next_sweep) {
            int n;
            store_areq_sweep(s->store, clock_wall(), &n);
            next_sweep = clock_mono() + SWEEP_SECONDS;
        }
        pthread_mutex_lock(&a->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += TICK_NS;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!a->stopping) pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int async_track(async_t *a, const async_meta_t *meta, job_t *job, int submitted) {
    entry_t *e = calloc(1, sizeof *e);
    if (!e) return IMG_ENOMEM;
    e->job = job;
    e->meta = *meta;
    e->submitted = submitted;
    pthread_mutex_lock(&a->mu);
    /* appended, so that resumed requests are queued in their original order */
    entry_t **pp = &a->head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = e;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return IMG_OK;
}

int async_cancel(async_t *a, const char *id, const char *key_id) {
    int rc = IMG_ENOTFOUND;
    pthread_mutex_lock(&a->mu);
    for (entry_t *e = a->head; e; e = e->next) {
        if (strcmp(e->meta.id, id) || strcmp(e->meta.key_id, key_id)) continue;
        rc = job_cancel_if_queued(e->job, IMG_ECANCELLED) ? IMG_OK : IMG_EBUSY;
        break;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int async_running(async_t *a) {
    int n = 0;
    pthread_mutex_lock(&a->mu);
    for (entry_t *e = a->head; e; e = e->next)
        n += e->submitted && job_state(e->job) == JOB_RUNNING;
    pthread_mutex_unlock(&a->mu);
    return n;
}

/* Recreates the job of a stored QUEUED request and tracks it; a request that can no longer run
 * (its model was removed, its body no longer valid) fails with its credits released. */
static void resume(async_t *a, const store_areq_t *r) {
    server_t *s = a->srv;
    int64_t now = clock_wall();
    api_request_t q;
    api_error_t e;
    const model_profile_t *m = registry_find(s->models, r->model);
    edit_t ed = {0}; /* a JSON edit's inputs, decoded again */
    int bad = !m || api_request_parse(ROUTE_KIND_SEED, r->body, strlen(r->body), &q, &e);
    if (!bad && q.nimages) {
        edit_from_request(&ed, &q);
        bad = edit_decode(&ed, m, &e);
        if (bad) api_request_free(&q);
    }
    if (bad) {
        edit_free(&ed);
        store_areq_fail(s->store, r->id, "generation_failed",
                        m ? "The stored request is no longer valid."
                          : "The request's model is no longer installed.",
                        0, now, NULL);
        return;
    }
    api_size_t size = q.size != SIZE_AUTO ? q.size
                      : q.nimages       ? api_size_for_aspect(ed.image.width, ed.image.height)
                                        : m->default_size;
    async_meta_t meta = {.size = size,
                         .quality = q.quality == QUALITY_AUTO ? m->default_quality : q.quality,
                         .background =
                             q.background == BACKGROUND_AUTO ? m->default_background : q.background,
                         .format = q.output_format,
                         .n = q.n,
                         .cost = r->cost};
    if (meta.background == BACKGROUND_TRANSPARENT && meta.format == FORMAT_JPEG)
        meta.background = BACKGROUND_OPAQUE;
    snprintf(meta.id, sizeof meta.id, "%s", r->id);
    snprintf(meta.key_id, sizeof meta.key_id, "%s", r->key_id);
    snprintf(meta.model, sizeof meta.model, "%s", m->id);
    snprintf(meta.route, sizeof meta.route, "%s", r->route);
    meta.webhook = r->webhook_url[0] != 0;
    job_spec_t spec = {.prompt = q.prompt,
                       .negative_prompt = q.negative_prompt,
                       .quality = meta.quality,
                       .background = meta.background,
                       .format = meta.format,
                       .compression = q.output_compression,
                       .n = q.n,
                       .seed = r->seed,
                       .start_deadline = clock_mono() + (double)(r->expires - now)};
    spec.deadline = spec.start_deadline + s->cfg->deadline_seconds;
    spec.nloras = q.nloras;
    memcpy(spec.loras, q.loras, sizeof spec.loras);
    snprintf(spec.model_id, sizeof spec.model_id, "%s", m->id);
    api_size_dims(meta.size, &spec.width, &spec.height);
    if (q.nimages) edit_job_spec(&ed, &q, &spec);
    job_t *job = NULL;
    int rc = job_create(&spec, r->id, &job); /* copies the edit's image and mask */
    edit_free(&ed);
    api_request_free(&q);
    if (rc == IMG_OK && async_track(a, &meta, job, 0) == IMG_OK) return;
    if (job) job_release(job);
    store_areq_fail(s->store, r->id, "internal_error", "Out of memory.", 0, now, NULL);
}

int async_create(server_t *s, async_t **out, char *err, size_t errlen) {
    async_t *a = calloc(1, sizeof *a);
    if (!a) return IMG_ENOMEM;
    a->srv = s;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    store_areq_t *queued = NULL;
    size_t n = 0;
    if (store_areq_queued(s->store, &queued, &n)) {
        snprintf(err, errlen, "cannot read the queued asynchronous requests from the store");
        async_stop(a);
        return IMG_ESTORE;
    }
    for (size_t i = 0; i < n; i++) {
        resume(a, &queued[i]);
        store_areq_clear(&queued[i]);
    }
    free(queued);
    if (pthread_create(&a->thread, NULL, settler, a)) {
        snprintf(err, errlen, "cannot start the asynchronous request thread");
        async_stop(a);
        return IMG_ENOMEM;
    }
    a->thread_started = 1;
    *out = a;
    return IMG_OK;
}

void async_stop(async_t *a) {
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    a->stopping = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (a->thread_started) pthread_join(a->thread, NULL);
    /* Started jobs are stopped and settled now; the others stay QUEUED for the next start. */
    for (entry_t *e = a->head; e; e = e->next)
        if (e->submitted && !job_cancel_if_queued(e->job, IMG_ECANCELLED))
            job_cancel(e->job, IMG_ECANCELLED);
    while (a->head) {
        entry_t *e = a->head;
        a->head = e->next;
        if (!e->submitted || job_wait(e->job, 0) == JOB_QUEUED ||
            (job_state(e->job) == JOB_CANCELLED && !e->started)) {
            /* never ran: keep it QUEUED in the store (its reservation stays), resumed at start */
            if (e->meta.limit_held) ratelimit_release(a->srv->limits, e->meta.key_id);
            job_release(e->job);
            free(e);
            continue;
        }
        job_wait(e->job, 10.0);
        settle(a, e,
               job_state(e->job) == JOB_DONE ? NULL
                                             : "The server stopped while the request was running.");
    }
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
