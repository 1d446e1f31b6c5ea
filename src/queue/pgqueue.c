/* pgqueue.c - gateways hand jobs to worker processes through PostgreSQL (see pgqueue.h).
 *
 * Times that several machines compare (leases, deadlines, worker liveness) are the database's
 * clock, never a local one. */
#include "queue/pgqueue.h"
#include "api/request.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/pgconnect.h"
#include "common/status.h"
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DB_NOW "extract(epoch from clock_timestamp())"
#define POLL_MS 500         /* a waiter re-reads its job at least this often */
#define ADVERTISE_MS 1000   /* a worker refreshes its row this often */
#define WORKER_ALIVE_S 10   /* a worker row older than this is gone */
#define KEEP_FINISHED_S 600 /* collected job rows (not their images) are kept this long */
#define MAX_SLOTS 64

struct pgqueue {
    char url[1024];
    int lease_seconds, route_grace_ms;
    int worker; /* 1: the worker side */
    char id[40];

    pthread_mutex_t db_mu; /* guards db: one connection for the short statements */
    PGconn *db;

    pthread_mutex_t mu; /* guards wake_gen, stopping */
    pthread_cond_t wake;
    uint64_t wake_gen; /* bumped on every notification */
    int stopping;
    double last_reap; /* clock_mono() of the last reap by this process */
    pthread_t listener;
    int listener_started;

    /* worker side */
    registry_t *models;
    queue_t *local;
    pthread_t slots[MAX_SLOTS];
    int nslots;
    atomic_int busy;
    char model_list[1024]; /* {"a","b"}: the models this worker can serve */
};

/* A connection, or NULL when it failed. */
static PGconn *connect_db(const char *url) {
    PGconn *c = pgc_open(url, "imgapi-queue"); /* owned by the caller */
    if (c && PQstatus(c) == CONNECTION_OK) return c;
    PQfinish(c);
    return NULL;
}

#define Q_MAX_PARAMS 16 /* parameters of one statement */

/* Runs one statement on the shared connection (reconnecting when it was lost). Text parameters,
 * except binary ones where lengths[i] > 0; binary: results in binary format. Returns the result
 * (caller PQclear's) or NULL. */
static PGresult *q_exec(pgqueue_t *q, const char *sql, int n, const char *const *vals,
                        const int *lengths, int binary) {
    int formats[Q_MAX_PARAMS] = {0};
    if (n > Q_MAX_PARAMS) return NULL;
    for (int i = 0; lengths && i < n; i++)
        formats[i] = lengths[i] > 0;
    pthread_mutex_lock(&q->db_mu);
    if (!q->db || PQstatus(q->db) != CONNECTION_OK) {
        PQfinish(q->db);
        q->db = connect_db(q->url);
    }
    PGresult *r = NULL;
    if (q->db) {
        r = PQexecParams(q->db, sql, n, NULL, vals, lengths, lengths ? formats : NULL, binary);
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            PQclear(r);
            r = NULL;
        }
    }
    pthread_mutex_unlock(&q->db_mu);
    return r;
}

static int q_cmd(pgqueue_t *q, const char *sql, int n, const char *const *vals) {
    PGresult *r = q_exec(q, sql, n, vals, NULL, 0);
    PQclear(r);
    return r ? IMG_OK : IMG_ESTORE;
}

static uint64_t wake_gen(pgqueue_t *q) {
    pthread_mutex_lock(&q->mu);
    uint64_t g = q->wake_gen;
    pthread_mutex_unlock(&q->mu);
    return g;
}

/* Waits until a notification newer than gen arrives, ms pass, or the queue stops. */
static void wait_wake(pgqueue_t *q, uint64_t gen, int ms) {
    struct timespec until = clock_abs_after(ms / 1000.0);
    pthread_mutex_lock(&q->mu);
    while (q->wake_gen == gen && !q->stopping)
        if (pthread_cond_timedwait(&q->wake, &q->mu, &until) == ETIMEDOUT) break;
    pthread_mutex_unlock(&q->mu);
}

static int stopping(pgqueue_t *q) {
    pthread_mutex_lock(&q->mu);
    int s = q->stopping;
    pthread_mutex_unlock(&q->mu);
    return s;
}

/* Jobs whose worker stopped renewing: back to the queue the first time, failed the second.
 * Also forgets old finished jobs and gone workers. Any process may run it at any time. */
static void reap(pgqueue_t *q) {
    char err[24];
    snprintf(err, sizeof err, "%d", IMG_EIO);
    const char *vals[] = {err};
    PGresult *r = q_exec(
        q,
        "UPDATE jobs SET status = CASE WHEN attempts < 2 THEN 'queued' ELSE 'failed' END,"
        " worker = '', error = CASE WHEN attempts < 2 THEN 0 ELSE $1::int END,"
        " message = CASE WHEN attempts < 2 THEN '' ELSE"
        " 'the workers running the job stopped twice' END,"
        " finished = CASE WHEN attempts < 2 THEN 0 ELSE " DB_NOW " END"
        " WHERE status = 'running' AND lease_until < " DB_NOW
        " RETURNING pg_notify(CASE WHEN status = 'queued' THEN 'imgapi_jobs' ELSE 'imgapi_done'"
        " END, id)",
        1, vals, NULL, 0);
    PQclear(r);
    char keep[24];
    snprintf(keep, sizeof keep, "%d", KEEP_FINISHED_S);
    const char *kv[] = {keep};
    q_cmd(q,
          "DELETE FROM jobs WHERE (status IN ('collected', 'cancelled') AND finished < " DB_NOW
          " - $1) OR deadline < " DB_NOW " - $1",
          1, kv);
    q_cmd(q,
          "DELETE FROM job_images i WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id ="
          " i.job_id AND j.status = 'done')",
          0, NULL);
    q_cmd(q, "DELETE FROM workers WHERE seen < " DB_NOW " - 60", 0, NULL);
}

/* Reaps at most once a second per process, whichever of its threads comes first. */
static void maybe_reap(pgqueue_t *q) {
    double now = clock_mono();
    pthread_mutex_lock(&q->mu);
    int due = now - q->last_reap >= 1.0;
    if (due) q->last_reap = now;
    pthread_mutex_unlock(&q->mu);
    if (due) reap(q);
}

/* ---- the gateway's side ---- */

static char *spec_json(const job_spec_t *s) {
    json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:i}", "prompt",
                          s->prompt, "negative_prompt", s->negative_prompt, "width", s->width,
                          "height", s->height, "quality", (int)s->quality, "background",
                          (int)s->background, "format", (int)s->format, "compression",
                          s->compression, "n", s->n, "seed", (json_int_t)s->seed, "previews",
                          s->previews);
    const api_settings_t *st = &s->settings;
    if (j && (st->steps || st->guidance > 0 || st->sampler || st->schedule) &&
        json_object_set_new(j, "settings",
                            json_pack("[i, f, i, i]", st->steps, (double)st->guidance, (int)st->sampler,
                                      (int)st->schedule))) {
        json_decref(j);
        return NULL;
    }
    if (j && s->nloras > 0) { /* adapters by name: the workers resolve them in their own folder */
        json_t *a = json_array();
        for (int i = 0; a && i < s->nloras; i++)
            if (json_array_append_new(a, json_pack("{s:s, s:f}", "name", s->loras[i].name, "scale",
                                                   (double)s->loras[i].scale))) {
                json_decref(a);
                a = NULL;
            }
        if (!a || json_object_set_new(j, "loras", a)) {
            json_decref(j);
            return NULL;
        }
    }
    const img_t *in = s->init_image;
    if (j && in) { /* an edit: its pixels travel in the row's input column */
        json_t *e = json_pack("{s:i, s:i, s:i, s:f, s:b, s:i}", "width", in->width, "height",
                              in->height, "channels", in->channels, "strength", (double)s->strength,
                              "mask", s->mask != NULL, "image_tokens", s->image_tokens);
        /* a multi-image edit's other images: their sizes here, their pixels after the first's */
        json_t *more = e && s->nmore > 0 ? json_array() : NULL;
        for (int i = 0; more && i < s->nmore; i++) {
            const img_t *m = &s->more_images[i];
            if (json_array_append_new(more, json_pack("[i, i, i]", m->width, m->height, m->channels))) {
                json_decref(more);
                more = NULL;
            }
        }
        if (!e || (s->nmore > 0 && (!more || json_object_set_new(e, "more", more))) ||
            json_object_set_new(j, "edit", e)) {
            json_decref(j);
            return NULL;
        }
    }
    char *out = j ? json_dumps(j, JSON_COMPACT) : NULL; /* caller frees */
    json_decref(j);
    return out;
}

/* Reads the images of a finished job into a malloc'd array (ownership to the caller). */
static int fetch_images(pgqueue_t *q, const char *id, int n, job_image_t **out) {
    const char *vals[] = {id};
    PGresult *r = q_exec(q,
                         "SELECT idx::text, seed::text, data FROM job_images WHERE job_id = $1"
                         " ORDER BY idx",
                         1, vals, NULL, 1);
    if (!r) return IMG_ESTORE;
    int rows = PQntuples(r), rc = rows == n ? IMG_OK : IMG_ESTORE;
    job_image_t *im = rc ? NULL : calloc((size_t)n, sizeof *im);
    if (!rc && !im) rc = IMG_ENOMEM;
    for (int i = 0; i < rows && !rc; i++) {
        size_t len = (size_t)PQgetlength(r, i, 2);
        im[i].seed = (uint32_t)strtoul(PQgetvalue(r, i, 1), NULL, 10);
        im[i].len = len;
        im[i].data = malloc(len ? len : 1);
        if (!im[i].data)
            rc = IMG_ENOMEM;
        else
            memcpy(im[i].data, PQgetvalue(r, i, 2), len);
    }
    PQclear(r);
    if (rc) {
        for (int i = 0; im && i < n; i++)
            free(im[i].data);
        free(im);
        return rc;
    }
    *out = im;
    return IMG_OK;
}

/* Reads the worker's latest step preview of a running job into the gateway's job. */
static int relay_preview(pgqueue_t *q, job_t *j) {
    const char *vals[] = {job_id(j)};
    PGresult *r = q_exec(q,
                         "SELECT preview_step::text, preview_w::text, preview_h::text, preview"
                         " FROM jobs WHERE id = $1 AND preview IS NOT NULL",
                         1, vals, NULL, 1);
    if (!r) return IMG_ESTORE;
    int rc = IMG_ENOTFOUND;
    if (PQntuples(r) == 1) {
        img_t pv = {.width = atoi(PQgetvalue(r, 0, 1)),
                    .height = atoi(PQgetvalue(r, 0, 2)),
                    .channels = 3,
                    .pixels = (uint8_t *)PQgetvalue(r, 0, 3)}; /* borrowed from r */
        rc = pv.width > 0 && pv.height > 0 &&
                     (size_t)PQgetlength(r, 0, 3) == (size_t)pv.width * pv.height * 3
                 ? job_set_preview(j, &pv, atoi(PQgetvalue(r, 0, 0)))
                 : IMG_EFORMAT;
    }
    PQclear(r);
    return rc;
}

/* One job, on a gateway queue thread: insert, wait for a worker's result, read it back. */
static void gateway_run(void *ctx, job_t *j) {
    pgqueue_t *q = ctx;
    const job_spec_t *s = job_spec(j);
    char *spec = spec_json(s);
    if (!spec) {
        job_end(j, JOB_FAILED, IMG_ENOMEM, "Out of memory.");
        return;
    }
    char left[32];
    snprintf(left, sizeof left, "%.3f", s->deadline - clock_mono());
    const img_t *in = s->init_image;
    size_t px = in ? (size_t)in->width * in->height : 0, bytes = px * (in ? (size_t)in->channels : 0);
    /* the input column: the first image's pixels, then the other images' (a multi-image edit) */
    unsigned char *joined = NULL; /* freed here */
    for (int i = 0; in && i < s->nmore; i++)
        bytes += (size_t)s->more_images[i].width * s->more_images[i].height * (size_t)s->more_images[i].channels;
    if (bytes > (size_t)INT32_MAX) {
        free(spec);
        job_end(j, JOB_FAILED, IMG_ERANGE, "The input images are too large together.");
        return;
    }
    if (in && s->nmore > 0) {
        if (!(joined = malloc(bytes))) {
            free(spec);
            job_end(j, JOB_FAILED, IMG_ENOMEM, "Out of memory.");
            return;
        }
        size_t at = px * (size_t)in->channels;
        memcpy(joined, in->pixels, at);
        for (int i = 0; i < s->nmore; i++) {
            const img_t *m = &s->more_images[i];
            size_t n = (size_t)m->width * m->height * (size_t)m->channels;
            memcpy(joined + at, m->pixels, n);
            at += n;
        }
    }
    const char *vals[] = {job_id(j), q->id, s->model_id, spec, left,
                          joined ? (const char *)joined : in ? (const char *)in->pixels : NULL,
                          s->mask ? (const char *)s->mask : NULL};
    /* text parameters, then the edit's input and mask as binary (a NULL one is SQL NULL) */
    int lens[] = {0, 0, 0, 0, 0, (int)bytes, (int)px};
    PGresult *r = q_exec(q,
                         "INSERT INTO jobs(id, gateway, model, spec, created, deadline, input,"
                         " input_mask) VALUES($1, $2, $3, $4, " DB_NOW ", " DB_NOW
                         " + $5::float8, $6, $7) RETURNING pg_notify('imgapi_jobs', model)",
                         7, vals, lens, 0);
    free(spec);
    free(joined);
    if (!r) {
        job_end(j, JOB_FAILED, IMG_ESTORE, "the job queue (PostgreSQL) is unreachable");
        return;
    }
    PQclear(r);
    const char *idv[] = {job_id(j)};
    int pv_image = -1, pv_step = -1; /* the preview relayed last */
    for (;;) {
        uint64_t gen = wake_gen(q);
        int why = job_stop_reason(j);
        if (why || stopping(q)) {
            /* a queued job is withdrawn; a running one is stopped at its next lease renewal */
            q_cmd(q,
                  "UPDATE jobs SET cancel = 1, status = CASE WHEN status = 'queued' THEN"
                  " 'cancelled' ELSE status END, finished = " DB_NOW " WHERE id = $1",
                  1, idv);
            job_end(j, JOB_CANCELLED, why ? why : IMG_ECANCELLED, "The job was cancelled.");
            return;
        }
        r = q_exec(q,
                   "SELECT status, error, message, input_tokens, n, image, step, steps, loading,"
                   " preview_step FROM jobs,"
                   " (SELECT count(*) AS n FROM job_images WHERE job_id = $1) c WHERE id = $1",
                   1, idv, NULL, 0);
        if (r && PQntuples(r) == 1) {
            const char *st = PQgetvalue(r, 0, 0);
            if (!strcmp(st, "running")) {
                int image = atoi(PQgetvalue(r, 0, 5)), pstep = atoi(PQgetvalue(r, 0, 9));
                job_set_progress(j, image, atoi(PQgetvalue(r, 0, 6)), atoi(PQgetvalue(r, 0, 7)),
                                 atoi(PQgetvalue(r, 0, 8)));
                if (s->previews && pstep > 0 && (image != pv_image || pstep != pv_step) &&
                    relay_preview(q, j) == IMG_OK) {
                    pv_image = image;
                    pv_step = pstep;
                }
            }
            if (!strcmp(st, "done")) {
                int tokens = atoi(PQgetvalue(r, 0, 3)), n = atoi(PQgetvalue(r, 0, 4));
                PQclear(r);
                job_image_t *im = NULL;
                int rc = fetch_images(q, job_id(j), n, &im);
                if (rc == IMG_OK) {
                    q_cmd(q,
                          "UPDATE jobs SET status = 'collected', finished = " DB_NOW
                          ", input = NULL, input_mask = NULL WHERE id = $1",
                          1, idv);
                    q_cmd(q, "DELETE FROM job_images WHERE job_id = $1", 1, idv);
                    job_complete(j, im, n, tokens);
                    return;
                }
                /* the database went away between the two reads: try again */
            } else if (!strcmp(st, "failed")) {
                int err = atoi(PQgetvalue(r, 0, 1));
                char msg[300];
                /* an adapter's message is the client's (IMG_EADAPTER); the others are operators' */
                snprintf(msg, sizeof msg, "%s%s", err == IMG_EADAPTER ? "" : "worker: ", PQgetvalue(r, 0, 2));
                PQclear(r);
                q_cmd(q, "UPDATE jobs SET status = 'collected' WHERE id = $1", 1, idv);
                job_end(j, JOB_FAILED, err ? err : IMG_EMODEL, msg);
                return;
            } else {
                PQclear(r);
            }
        } else {
            PQclear(r); /* unreachable for now: the deadline still bounds the wait */
        }
        maybe_reap(q);
        wait_wake(q, gen, POLL_MS);
    }
}

job_runner_t pgq_runner(pgqueue_t *q) {
    job_runner_t r = {q, gateway_run};
    return r;
}

/* ---- the worker's side ---- */

/* The spec a gateway wrote; an edit's sizes go into *edit (its pixels are read afterwards,
 * read_input), s->init_image points to it and *edit_mask says whether it has a mask; a
 * multi-image edit's other images' sizes into *more (malloc'd, the caller frees it and their
 * pixels), s->more_images points to them. */
static int spec_from_json(const char *text, const char *model, double left, job_spec_t *s,
                          char **strings, img_t *edit, int *edit_mask, img_t **more) {
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    const char *prompt = NULL, *neg = NULL;
    int quality = 0, background = 0, format = 0;
    json_int_t seed = 0;
    memset(s, 0, sizeof *s);
    if (!j ||
        json_unpack(j, "{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s?i}", "prompt",
                    &prompt, "negative_prompt", &neg, "width", &s->width, "height", &s->height,
                    "quality", &quality, "background", &background, "format", &format,
                    "compression", &s->compression, "n", &s->n, "seed", &seed, "previews",
                    &s->previews) ||
        s->n < 1 || s->width < 1 || s->height < 1) {
        json_decref(j);
        return IMG_EFORMAT;
    }
    size_t pl = strlen(prompt), nl = strlen(neg);
    *strings = malloc(pl + nl + 2); /* caller frees after job_create copied them */
    if (!*strings) {
        json_decref(j);
        return IMG_ENOMEM;
    }
    memcpy(*strings, prompt, pl + 1);
    memcpy(*strings + pl + 1, neg, nl + 1);
    snprintf(s->model_id, sizeof s->model_id, "%s", model);
    s->prompt = *strings;
    s->negative_prompt = *strings + pl + 1;
    s->quality = (api_quality_t)quality;
    s->background = (api_background_t)background;
    s->format = (api_format_t)format;
    s->seed = (uint32_t)seed;
    s->deadline = clock_mono() + left;
    json_t *sj = json_object_get(j, "settings");
    if (sj) {
        double guidance = 0;
        int sampler = 0, schedule = 0;
        if (json_unpack(sj, "[i, F, i, i]", &s->settings.steps, &guidance, &sampler, &schedule) ||
            s->settings.steps < 0 || guidance < 0 || sampler < 0 || sampler > API_SAMPLER_LCM || schedule < 0 ||
            schedule > API_SCHEDULE_SGM_UNIFORM) {
            json_decref(j);
            free(*strings);
            *strings = NULL;
            return IMG_EFORMAT;
        }
        s->settings.guidance = (float)guidance;
        s->settings.sampler = (api_sampler_t)sampler;
        s->settings.schedule = (api_schedule_t)schedule;
    }
    json_t *lj = json_object_get(j, "loras");
    if (lj) {
        api_error_t ae;
        if (!json_is_array(lj) || api_loras_from_json(lj, s->loras, &s->nloras, &ae)) {
            json_decref(j);
            free(*strings);
            *strings = NULL;
            return IMG_EFORMAT;
        }
    }
    json_t *ej = json_object_get(j, "edit");
    if (ej) {
        double strength = 0;
        if (json_unpack(ej, "{s:i, s:i, s:i, s:F, s:b, s:i}", "width", &edit->width, "height",
                        &edit->height, "channels", &edit->channels, "strength", &strength, "mask",
                        edit_mask, "image_tokens", &s->image_tokens) ||
            edit->width < 1 || edit->height < 1 || edit->channels < 1 || edit->channels > 4) {
            json_decref(j);
            free(*strings);
            *strings = NULL;
            return IMG_EFORMAT;
        }
        s->strength = (float)strength;
        s->init_image = edit; /* its pixels are read from the row (read_input) */
        json_t *mj = json_object_get(ej, "more");
        size_t nm = json_array_size(mj), i;
        json_t *one;
        int bad = mj && (!json_is_array(mj) || nm < 1 || nm > API_MAX_INPUT_IMAGES - 1);
        if (!bad && nm && !(*more = calloc(nm, sizeof **more))) {
            json_decref(j);
            free(*strings);
            *strings = NULL;
            return IMG_ENOMEM;
        }
        json_array_foreach(bad ? NULL : mj, i, one) {
            img_t *m = &(*more)[i];
            if (json_unpack(one, "[i, i, i]", &m->width, &m->height, &m->channels) || m->width < 1 ||
                m->height < 1 || m->channels < 1 || m->channels > 4)
                bad = 1;
        }
        if (bad) {
            free(*more);
            *more = NULL;
            json_decref(j);
            free(*strings);
            *strings = NULL;
            return IMG_EFORMAT;
        }
        s->more_images = *more;
        s->nmore = (int)nm;
    }
    json_decref(j);
    return IMG_OK;
}

/* An edit's input image and mask from the job's row into *in (pixels owned by in) and *mask
 * (owned by the caller), and the other images of a multi-image edit into more[0..nmore) (pixels
 * owned by each), checked against the sizes of the spec. */
static int read_input(pgqueue_t *q, const char *id, img_t *in, int want_mask, uint8_t **mask, img_t *more,
                      int nmore) {
    const char *vals[] = {id};
    PGresult *r = q_exec(q, "SELECT input, input_mask FROM jobs WHERE id = $1", 1, vals, NULL, 1);
    if (!r) return IMG_ESTORE;
    size_t px = (size_t)in->width * in->height, first = px * (size_t)in->channels, total = first;
    for (int i = 0; i < nmore; i++)
        total += (size_t)more[i].width * more[i].height * (size_t)more[i].channels;
    int rc = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) && (size_t)PQgetlength(r, 0, 0) == total &&
                     (!want_mask || (!PQgetisnull(r, 0, 1) && (size_t)PQgetlength(r, 0, 1) == px))
                 ? IMG_OK
                 : IMG_EFORMAT;
    if (!rc) {
        const char *src = PQgetvalue(r, 0, 0);
        in->pixels = malloc(first);
        *mask = want_mask ? malloc(px) : NULL;
        if (!in->pixels || (want_mask && !*mask)) {
            rc = IMG_ENOMEM;
        } else {
            memcpy(in->pixels, src, first);
            if (want_mask) memcpy(*mask, PQgetvalue(r, 0, 1), px);
        }
        size_t at = first;
        for (int i = 0; !rc && i < nmore; i++) {
            size_t n = (size_t)more[i].width * more[i].height * (size_t)more[i].channels;
            if (!(more[i].pixels = malloc(n))) rc = IMG_ENOMEM;
            else memcpy(more[i].pixels, src + at, n);
            at += n;
        }
    }
    PQclear(r);
    return rc;
}

/* Writes a finished job back (images + status in one transaction) and wakes its gateway.
 * Nothing is written when the lease was lost meanwhile (another worker has the job). */
static void finish_claimed(pgqueue_t *q, job_t *j, job_state_t st) {
    const char *id = job_id(j);
    pthread_mutex_lock(&q->db_mu); /* one transaction on the shared connection */
    if (!q->db || PQstatus(q->db) != CONNECTION_OK) {
        PQfinish(q->db);
        q->db = connect_db(q->url);
    }
    PGconn *c = q->db;
    int ok = c && PQstatus(c) == CONNECTION_OK;
    PGresult *r = ok ? PQexec(c, "BEGIN") : NULL;
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok && st == JOB_DONE) {
        int n = 0;
        const job_image_t *im = job_images(j, &n);
        for (int i = 0; i < n && ok; i++) {
            char idx[16], seed[16];
            snprintf(idx, sizeof idx, "%d", i);
            snprintf(seed, sizeof seed, "%u", im[i].seed);
            const char *vals[] = {id, idx, seed, (const char *)im[i].data};
            int lengths[] = {0, 0, 0, (int)im[i].len};
            int formats[] = {0, 0, 0, 1};
            r = PQexecParams(
                c,
                "INSERT INTO job_images(job_id, idx, seed, data) VALUES($1, $2, $3, $4)"
                " ON CONFLICT (job_id, idx) DO UPDATE SET data = $4, seed = $3",
                4, NULL, vals, lengths, formats, 0);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
    }
    if (ok) {
        const char *msg = "";
        int err = st == JOB_DONE ? 0 : job_error(j, &msg);
        char eb[16], tb[16];
        snprintf(eb, sizeof eb, "%d", err);
        snprintf(tb, sizeof tb, "%d", job_input_tokens(j));
        const char *vals[] = {
            id, q->id,          st == JOB_DONE ? "done" : st == JOB_FAILED ? "failed" : "cancelled",
            eb, msg ? msg : "", tb};
        r = PQexecParams(c,
                         "UPDATE jobs SET status = $3, error = $4::int, message = $5,"
                         " input_tokens = $6::int, preview = NULL, finished = " DB_NOW
                         " WHERE id = $1 AND worker = $2 AND status = 'running'"
                         " RETURNING pg_notify('imgapi_done', id)",
                         6, NULL, vals, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        PQclear(r);
    }
    if (c && PQstatus(c) == CONNECTION_OK) {
        r = PQexec(c, ok ? "COMMIT" : "ROLLBACK");
        PQclear(r);
    }
    pthread_mutex_unlock(&q->db_mu);
}

/* What a worker last wrote of a running job's progress. */
typedef struct {
    int image, step, steps, loading, preview_step;
} sent_progress_t;

/* Writes a running job's progress, and its latest preview when the request streams previews,
 * when they changed since *sent (called at most four times a second), and wakes the gateways.
 * A failed write is retried with the next change. */
static void send_progress(pgqueue_t *q, job_t *j, sent_progress_t *sent) {
    sent_progress_t now;
    job_progress(j, &now.image, &now.step, &now.steps);
    now.loading = job_loading(j);
    img_t pv = {0};
    int has_pv = job_spec(j)->previews && job_preview(j, &pv, &now.preview_step) == IMG_OK;
    if (!has_pv) now.preview_step = sent->preview_step;
    int new_pv = has_pv && (now.preview_step != sent->preview_step || now.image != sent->image);
    if (!new_pv && now.image == sent->image && now.step == sent->step &&
        now.steps == sent->steps && now.loading == sent->loading) {
        img_free(&pv);
        return;
    }
    char v[8][16];
    snprintf(v[0], sizeof v[0], "%d", now.image);
    snprintf(v[1], sizeof v[1], "%d", now.step);
    snprintf(v[2], sizeof v[2], "%d", now.steps);
    snprintf(v[3], sizeof v[3], "%d", now.loading);
    snprintf(v[4], sizeof v[4], "%d", now.preview_step);
    snprintf(v[5], sizeof v[5], "%d", pv.width);
    snprintf(v[6], sizeof v[6], "%d", pv.height);
    const char *vals[] = {job_id(j), q->id, v[0], v[1], v[2], v[3], (const char *)pv.pixels,
                          v[4], v[5], v[6]};
    int lengths[] = {0, 0, 0, 0, 0, 0, new_pv ? pv.width * pv.height * 3 : 0, 0, 0, 0};
    PGresult *r = q_exec(
        q,
        new_pv ? "UPDATE jobs SET image = $3::int, step = $4::int, steps = $5::int,"
                 " loading = $6::int, preview = $7, preview_step = $8::int, preview_w = $9::int,"
                 " preview_h = $10::int WHERE id = $1 AND worker = $2 AND status = 'running'"
                 " RETURNING pg_notify('imgapi_progress', id)"
               : "UPDATE jobs SET image = $3::int, step = $4::int, steps = $5::int,"
                 " loading = $6::int WHERE id = $1 AND worker = $2 AND status = 'running'"
                 " RETURNING pg_notify('imgapi_progress', id)",
        new_pv ? 10 : 6, vals, lengths, 0);
    if (r) *sent = now;
    PQclear(r);
    img_free(&pv);
}

/* Runs a claimed job on the local queue, renewing the lease; stops it when the gateway
 * cancels it or the lease is lost. */
static void run_claimed(pgqueue_t *q, const char *id, const char *model, const char *spec_text,
                        double left) {
    job_spec_t spec;
    char *strings = NULL;
    job_t *j = NULL;
    img_t input = {0}, *more = NULL;
    uint8_t *mask = NULL;
    int has_mask = 0;
    int rc = spec_from_json(spec_text, model, left, &spec, &strings, &input, &has_mask, &more);
    int nmore = rc ? 0 : spec.nmore;
    if (!rc && spec.init_image) {
        rc = read_input(q, id, &input, has_mask, &mask, more, nmore);
        spec.mask = mask;
    }
    if (!rc) rc = job_create(&spec, id, &j); /* copies the inputs and mask */
    free(strings);
    img_free(&input);
    for (int i = 0; i < nmore; i++) img_free(&more[i]);
    free(more);
    free(mask);
    if (!rc) rc = queue_submit(q->local, j);
    if (rc) {
        char eb[16];
        snprintf(eb, sizeof eb, "%d", rc == IMG_EFORMAT ? IMG_EINVAL : rc);
        const char *vals[] = {id, q->id, eb};
        PGresult *r =
            q_exec(q,
                   "UPDATE jobs SET status = 'failed', error = $3::int,"
                   " message = 'the worker could not take the job', finished = " DB_NOW
                   " WHERE id = $1 AND worker = $2 RETURNING pg_notify('imgapi_done', id)",
                   3, vals, NULL, 0);
        PQclear(r);
        job_release(j);
        return;
    }
    char lease[16];
    snprintf(lease, sizeof lease, "%d", q->lease_seconds);
    const char *rv[] = {id, q->id, lease};
    double renew_every = q->lease_seconds / 3.0, last = clock_mono();
    sent_progress_t sent = {-1, -1, -1, -2, 0};
    job_state_t st;
    while ((st = job_wait(j, 0.25)) == JOB_QUEUED || st == JOB_RUNNING) {
        send_progress(q, j, &sent);
        if (clock_mono() - last < renew_every) continue;
        last = clock_mono();
        PGresult *r = q_exec(q,
                             "UPDATE jobs SET lease_until = " DB_NOW " + $3::int WHERE id = $1"
                             " AND worker = $2 AND status = 'running' RETURNING cancel",
                             3, rv, NULL, 0);
        /* unreachable database: go on (the lease may still hold when it is back) */
        if (r && (PQntuples(r) == 0 || atoi(PQgetvalue(r, 0, 0)))) job_cancel(j, IMG_ECANCELLED);
        PQclear(r);
    }
    finish_claimed(q, j, st);
    job_release(j);
}

/* The ids of the registry's models (only those loaded now, when loaded_only) into out: as a
 * PostgreSQL text array {"a","b"} for the claim query, or a comma list a,b for the workers
 * table. Ids that do not fit are left out. */
static void list_models(registry_t *r, int loaded_only, int as_array, char *out, size_t len) {
    size_t used = (size_t)snprintf(out, len, "%s", as_array ? "{" : "");
    int first = 1;
    for (size_t i = 0; i < registry_count(r); i++) {
        const char *m = registry_profile(r, i)->id;
        int loaded = 1, loads = 0;
        if (loaded_only) registry_state(r, m, &loaded, &loads);
        if (!loaded || used + strlen(m) + 5 >= len) continue; /* room for ,"m"} and the NUL */
        used += (size_t)snprintf(out + used, len - used, as_array ? "%s\"%s\"" : "%s%s",
                                 first ? "" : ",", m);
        first = 0;
    }
    if (as_array) snprintf(out + used, len - used, "}");
}

static void *slot_main(void *arg) {
    pgqueue_t *q = arg;
    char lease[16], grace[32];
    snprintf(lease, sizeof lease, "%d", q->lease_seconds);
    snprintf(grace, sizeof grace, "%.3f", q->route_grace_ms / 1000.0);
    while (!stopping(q)) {
        uint64_t gen = wake_gen(q);
        maybe_reap(q);
        char loaded[1024];
        list_models(q->models, 1, 1, loaded, sizeof loaded);
        const char *vals[] = {q->id, lease, q->model_list, loaded, grace};
        PGresult *r =
            q_exec(q,
                   "UPDATE jobs SET status = 'running', worker = $1, attempts = attempts + 1,"
                   " lease_until = " DB_NOW " + $2::int WHERE id = (SELECT id FROM jobs j"
                   " WHERE status = 'queued' AND model = ANY($3::text[]) AND deadline > " DB_NOW
                   " AND (model = ANY($4::text[]) OR created < " DB_NOW " - $5::float8"
                   " OR NOT EXISTS (SELECT 1 FROM workers w WHERE w.id <> $1 AND w.seen > " DB_NOW
                   " - 10 AND (',' || w.loaded || ',') LIKE ('%,' || j.model || ',%')))"
                   " ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)"
                   " RETURNING id, model, spec, deadline - " DB_NOW,
                   5, vals, NULL, 0);
        if (r && PQntuples(r) == 1) {
            atomic_fetch_add(&q->busy, 1);
            run_claimed(q, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
                        strtod(PQgetvalue(r, 0, 3), NULL));
            atomic_fetch_sub(&q->busy, 1);
            PQclear(r);
            continue; /* there may be more */
        }
        PQclear(r);
        /* nothing for us now: a new job, a freed model or the grace period wakes us */
        wait_wake(q, gen, q->route_grace_ms < POLL_MS ? q->route_grace_ms : POLL_MS);
    }
    return NULL;
}

/* The worker's row: what it serves, what it has loaded, how busy it is. */
static void advertise(pgqueue_t *q, PGconn *c) {
    char loaded[1024], slots[16], busy[16], pid[16], host[256] = "";
    list_models(q->models, 1, 0, loaded, sizeof loaded);
    gethostname(host, sizeof host - 1);
    snprintf(slots, sizeof slots, "%d", q->nslots);
    snprintf(busy, sizeof busy, "%d", atomic_load(&q->busy));
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    const char *vals[] = {q->id, host, pid, q->model_list, loaded, slots, busy};
    PGresult *r =
        PQexecParams(c,
                     "INSERT INTO workers(id, host, pid, models, loaded, slots, busy, seen)"
                     " VALUES($1, $2, $3::int, $4, $5, $6::int, $7::int, " DB_NOW ")"
                     " ON CONFLICT (id) DO UPDATE SET loaded = $5, busy = $7::int,"
                     " seen = " DB_NOW,
                     7, NULL, vals, NULL, NULL, 0);
    PQclear(r);
}

/* LISTENs for new and finished jobs (and, on a gateway, progress) and wakes the waiting
 * threads; a worker also refreshes its row here. Reconnects after the database restarts. */
static void *listener_main(void *arg) {
    pgqueue_t *q = arg;
    PGconn *c = NULL;
    double last_ad = 0;
    while (!stopping(q)) {
        if (!c || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = connect_db(q->url);
            /* gateways also hear their running jobs' progress */
            PGresult *r = c ? PQexec(c, q->worker ? "LISTEN imgapi_jobs; LISTEN imgapi_done"
                                                  : "LISTEN imgapi_jobs; LISTEN imgapi_done;"
                                                    " LISTEN imgapi_progress")
                            : NULL;
            int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok) {
                PQfinish(c);
                c = NULL;
                wait_wake(q, wake_gen(q), 1000);
                continue;
            }
        }
        if (q->worker && clock_mono() - last_ad >= ADVERTISE_MS / 1000.0) {
            advertise(q, c);
            last_ad = clock_mono();
        }
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        if (poll(&pfd, 1, 250) > 0 && !PQconsumeInput(c)) continue; /* lost: reconnect */
        int woke = 0;
        PGnotify *n;
        while ((n = PQnotifies(c))) {
            woke = 1;
            PQfreemem(n);
        }
        if (woke) {
            pthread_mutex_lock(&q->mu);
            q->wake_gen++;
            pthread_cond_broadcast(&q->wake);
            pthread_mutex_unlock(&q->mu);
        }
    }
    if (c && q->worker) {
        const char *vals[] = {q->id};
        PGresult *r =
            PQexecParams(c, "DELETE FROM workers WHERE id = $1", 1, NULL, vals, NULL, NULL, 0);
        PQclear(r);
    }
    PQfinish(c);
    return NULL;
}

static int create(const pgq_opts_t *o, int worker, pgqueue_t **out, char *err, size_t errlen) {
    pgqueue_t *q = calloc(1, sizeof *q); /* owned by the caller until pgq_free */
    if (!q) return IMG_ENOMEM;
    snprintf(q->url, sizeof q->url, "%s", o->url);
    q->lease_seconds = o->lease_seconds > 0 ? o->lease_seconds : 10;
    q->route_grace_ms = o->route_grace_ms >= 0 ? o->route_grace_ms : 2000;
    q->worker = worker;
    uint8_t raw[8];
    char hex[17];
    if (crypto_random(raw, sizeof raw)) {
        free(q);
        return IMG_EIO;
    }
    crypto_hex(raw, sizeof raw, hex);
    snprintf(q->id, sizeof q->id, "%s_%s", worker ? "wrk" : "gw", hex);
    pthread_mutex_init(&q->db_mu, NULL);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->wake, NULL);
    q->db = connect_db(q->url);
    PGresult *r = q->db ? PQexec(q->db, "SELECT 1 FROM jobs LIMIT 0") : NULL;
    int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (!ok) {
        snprintf(err, errlen, "the job queue is not reachable in PostgreSQL%s%s", q->db ? ": " : "",
                 q->db ? PQerrorMessage(q->db) : "");
        pgq_free(q);
        return IMG_ESTORE;
    }
    *out = q;
    return IMG_OK;
}

static int start_listener(pgqueue_t *q, char *err, size_t errlen) {
    if (pthread_create(&q->listener, NULL, listener_main, q)) {
        snprintf(err, errlen, "cannot start the job queue listener");
        return IMG_ENOMEM;
    }
    q->listener_started = 1;
    return IMG_OK;
}

int pgq_gateway_create(const pgq_opts_t *o, pgqueue_t **out, char *err, size_t errlen) {
    pgqueue_t *q;
    int rc = create(o, 0, &q, err, errlen);
    if (!rc && (rc = start_listener(q, err, errlen))) pgq_free(q);
    if (!rc) *out = q;
    return rc;
}

int pgq_worker_start(const pgq_opts_t *o, registry_t *models, queue_t *local, int slots,
                     pgqueue_t **out, char *err, size_t errlen) {
    pgqueue_t *q;
    int rc = create(o, 1, &q, err, errlen);
    if (rc) return rc;
    q->models = models;
    q->local = local;
    list_models(models, 0, 1, q->model_list, sizeof q->model_list);
    if ((rc = start_listener(q, err, errlen))) {
        pgq_free(q);
        return rc;
    }
    if (slots > MAX_SLOTS) slots = MAX_SLOTS;
    for (int i = 0; i < slots; i++) {
        if (pthread_create(&q->slots[i], NULL, slot_main, q)) break;
        q->nslots++;
    }
    if (q->nslots == 0) {
        snprintf(err, errlen, "cannot start the worker threads");
        pgq_free(q);
        return IMG_ENOMEM;
    }
    *out = q;
    return IMG_OK;
}

const char *pgq_worker_id(const pgqueue_t *q) {
    return q->id;
}

void pgq_free(pgqueue_t *q) {
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    pthread_cond_broadcast(&q->wake);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->nslots; i++)
        pthread_join(q->slots[i], NULL);
    if (q->listener_started) pthread_join(q->listener, NULL);
    PQfinish(q->db);
    pthread_mutex_destroy(&q->db_mu);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->wake);
    free(q);
}
