/* queue.c - the worker pool: pops jobs, runs the generator, post-processes and encodes. */
#include "queue/queue.h"
#include "common/clock.h"
#include "common/status.h"
#include "image/image.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char id[64];
    job_spec_t spec; /* prompt strings point into prompt_buf */
    char *prompt_buf;
    img_t init;    /* an edit's input image (spec.init_image points here), owned */
    uint8_t *mask; /* its mask (spec.mask), owned, or NULL */
    img_t *more;   /* a multi-image edit's other images (spec.more_images), owned */
    job_state_t state;
    atomic_int cancel; /* 0 or the reason */
    atomic_int skip;   /* 1: stop the image being generated and go on with the next */
    int error;
    char message[512];
    job_image_t *images;
    int n_images;
    int input_tokens;
    double started, finished;
    atomic_int step, steps; /* progress of the current image */
    atomic_int loading;     /* permille of the model load while it loads for this job, else -1 */
    atomic_int image;       /* index of the image being generated */
    img_t preview;          /* latest step preview (spec.previews), guarded by mu */
    int preview_step;
    job_t *next; /* queue link */
};

struct queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *head, *tail;
    size_t depth, running;
    int capacity;
    int stopping;
    registry_t *models;
    job_runner_t runner; /* run == NULL: the local models (run_job) */
    pthread_t *threads;
    int nthreads;
};

int job_create(const job_spec_t *spec, const char *id, job_t **out) {
    job_t *j = calloc(1, sizeof *j);
    if (!j) return IMG_ENOMEM;
    size_t pl = strlen(spec->prompt), nl = strlen(spec->negative_prompt);
    j->prompt_buf = malloc(pl + nl + 2);
    if (!j->prompt_buf) {
        free(j);
        return IMG_ENOMEM;
    }
    memcpy(j->prompt_buf, spec->prompt, pl + 1);
    memcpy(j->prompt_buf + pl + 1, spec->negative_prompt, nl + 1);
    j->spec = *spec;
    j->spec.init_image = NULL;
    j->spec.mask = NULL;
    j->spec.more_images = NULL;
    j->spec.nmore = 0;
    if (spec->nmore > 0 && !(j->more = calloc((size_t)spec->nmore, sizeof *j->more))) {
        free(j->prompt_buf);
        free(j);
        return IMG_ENOMEM;
    }
    for (int i = 0; i < spec->nmore; i++) { /* the other images, owned by the job */
        const img_t *in = &spec->more_images[i];
        if (img_alloc(&j->more[i], in->width, in->height, in->channels)) {
            for (int k = 0; k < i; k++) img_free(&j->more[k]);
            free(j->more);
            free(j->prompt_buf);
            free(j);
            return IMG_ENOMEM;
        }
        memcpy(j->more[i].pixels, in->pixels, (size_t)in->width * in->height * (size_t)in->channels);
    }
    j->spec.more_images = j->more;
    j->spec.nmore = spec->nmore;
    if (spec->init_image) { /* the edit's input, owned by the job */
        const img_t *in = spec->init_image;
        size_t px = (size_t)in->width * in->height;
        if (img_alloc(&j->init, in->width, in->height, in->channels) ||
            (spec->mask && !(j->mask = malloc(px)))) {
            img_free(&j->init);
            for (int k = 0; k < j->spec.nmore; k++) img_free(&j->more[k]);
            free(j->more);
            free(j->prompt_buf);
            free(j);
            return IMG_ENOMEM;
        }
        memcpy(j->init.pixels, in->pixels, px * (size_t)in->channels);
        if (spec->mask) memcpy(j->mask, spec->mask, px);
        j->spec.init_image = &j->init;
        j->spec.mask = j->mask;
    }
    j->spec.prompt = j->prompt_buf;
    j->spec.negative_prompt = j->prompt_buf + pl + 1;
    snprintf(j->id, sizeof j->id, "%s", id);
    atomic_init(&j->refs, 1);
    atomic_init(&j->cancel, 0);
    atomic_init(&j->step, 0);
    atomic_init(&j->steps, 0);
    atomic_init(&j->image, 0);
    atomic_init(&j->loading, -1);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->state = JOB_QUEUED;
    *out = j;
    return IMG_OK;
}

void job_release(job_t *j) {
    if (!j || atomic_fetch_sub(&j->refs, 1) != 1) return;
    for (int i = 0; i < j->n_images; i++)
        free(j->images[i].data);
    img_free(&j->preview);
    img_free(&j->init);
    free(j->mask);
    for (int i = 0; i < j->spec.nmore; i++) img_free(&j->more[i]);
    free(j->more);
    free(j->images);
    free(j->prompt_buf);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

static void job_finish(job_t *j, job_state_t st, int error, const char *msg) {
    pthread_mutex_lock(&j->mu);
    j->state = st;
    j->error = error;
    if (msg) snprintf(j->message, sizeof j->message, "%s", msg);
    j->finished = clock_mono();
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

job_state_t job_wait(job_t *j, double seconds) {
    struct timespec until = clock_abs_after(seconds);
    pthread_mutex_lock(&j->mu);
    while (j->state == JOB_QUEUED || j->state == JOB_RUNNING) {
        if (pthread_cond_timedwait(&j->cv, &j->mu, &until) != 0) break;
    }
    job_state_t st = j->state;
    pthread_mutex_unlock(&j->mu);
    return st;
}

void job_skip(job_t *j) {
    atomic_store(&j->skip, 1);
}

void job_cancel(job_t *j, int reason) {
    int zero = 0;
    atomic_compare_exchange_strong(&j->cancel, &zero, reason);
}

int job_cancel_if_queued(job_t *j, int reason) {
    /* the worker reads cancel and moves QUEUED -> RUNNING under the same mutex */
    pthread_mutex_lock(&j->mu);
    int queued = j->state == JOB_QUEUED;
    if (queued) job_cancel(j, reason);
    pthread_mutex_unlock(&j->mu);
    return queued;
}

job_state_t job_state(job_t *j) {
    pthread_mutex_lock(&j->mu);
    job_state_t st = j->state;
    pthread_mutex_unlock(&j->mu);
    return st;
}

const char *job_id(const job_t *j) {
    return j->id;
}

const job_image_t *job_images(const job_t *j, int *n) {
    *n = j->n_images;
    return j->images;
}

int job_error(const job_t *j, const char **message) {
    *message = j->message;
    return j->error;
}

int job_input_tokens(const job_t *j) {
    return j->input_tokens;
}

int job_preview(job_t *j, img_t *out, int *step) {
    pthread_mutex_lock(&j->mu);
    int rc = IMG_ENOTFOUND;
    if (j->preview.pixels && img_alloc(out, j->preview.width, j->preview.height, 3) == IMG_OK) {
        memcpy(out->pixels, j->preview.pixels, (size_t)out->width * out->height * 3);
        *step = j->preview_step;
        rc = IMG_OK;
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int job_loading(job_t *j) {
    return atomic_load(&j->loading);
}

void job_progress(job_t *j, int *image, int *step, int *steps) {
    *image = atomic_load(&j->image);
    *step = atomic_load(&j->step);
    *steps = atomic_load(&j->steps);
}
/* 0 for a job that never started (started is 0 then). */
double job_run_seconds(const job_t *j) {
    return j->started > 0 && j->finished > j->started ? j->finished - j->started : 0;
}

const job_spec_t *job_spec(const job_t *j) {
    return &j->spec;
}

int job_stop_reason(job_t *j) {
    int c = atomic_load(&j->cancel);
    if (!c && clock_mono() > j->spec.deadline) {
        job_cancel(j, IMG_ETIMEDOUT);
        c = atomic_load(&j->cancel);
    }
    return c;
}

void job_complete(job_t *j, job_image_t *images, int n, int input_tokens) {
    j->images = images;
    j->n_images = n;
    j->input_tokens = input_tokens;
    job_finish(j, JOB_DONE, IMG_OK, NULL);
}

void job_end(job_t *j, job_state_t st, int error, const char *message) {
    job_finish(j, st, error, message);
}

/* ---- worker ---- */

void job_set_progress(job_t *j, int image, int step, int steps, int loading_permille) {
    atomic_store(&j->image, image);
    atomic_store(&j->step, step);
    atomic_store(&j->steps, steps);
    atomic_store(&j->loading, loading_permille);
}

int job_set_preview(job_t *j, const img_t *preview, int step) {
    int rc = IMG_OK;
    pthread_mutex_lock(&j->mu);
    if (j->preview.width != preview->width || j->preview.height != preview->height) {
        img_free(&j->preview);
        rc = img_alloc(&j->preview, preview->width, preview->height, 3);
    }
    if (j->preview.pixels) {
        memcpy(j->preview.pixels, preview->pixels, (size_t)preview->width * preview->height * 3);
        j->preview_step = step;
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

static int progress_check(void *user, int step, int total, const img_t *preview) {
    job_t *j = user;
    atomic_store(&j->step, step);
    atomic_store(&j->steps, total);
    if (preview) job_set_preview(j, preview, step); /* a preview that cannot be kept is skipped */
    if (atomic_load(&j->cancel) || atomic_load(&j->skip)) return 1;
    if (clock_mono() > j->spec.deadline) {
        job_cancel(j, IMG_ETIMEDOUT);
        return 1;
    }
    return 0;
}

static int cancelled_reason(job_t *j) {
    int c = atomic_load(&j->cancel);
    return c ? c : IMG_ECANCELLED;
}

/* Resample to the exact size, matte when transparent, encode. */
static int postprocess(job_t *j, img_t *raw, job_image_t *out) {
    img_t sized = {0}, rgba = {0};
    const img_t *cur = raw;
    int rc = IMG_OK;
    if (raw->width != j->spec.width || raw->height != j->spec.height) {
        rc = img_resize(raw, j->spec.width, j->spec.height, &sized);
        cur = &sized;
    }
    img_t in_sized = {0}, comp = {0};
    uint8_t *mask_sized = NULL;
    if (rc == IMG_OK && j->spec.mask) {
        /* the unmasked pixels are the input's, with a seam of at most 8 px */
        const img_t *in = j->spec.init_image;
        if (in->width != cur->width || in->height != cur->height) {
            /* RGB or RGBA alike: resampling is per channel, compositing reads the first three */
            rc = img_resize(in, cur->width, cur->height, &in_sized);
            in = &in_sized;
        }
        if (!rc) rc = img_resize_mask(j->spec.mask, j->spec.init_image->width,
                                      j->spec.init_image->height, cur->width, cur->height, &mask_sized);
        if (!rc) rc = img_composite_masked(cur, in, mask_sized, 8, &comp);
        if (!rc) cur = &comp;
    }
    if (rc == IMG_OK && j->spec.background == BACKGROUND_TRANSPARENT) {
        rc = img_matte(cur, &rgba);
        cur = &rgba;
    }
    if (rc == IMG_OK)
        rc = img_encode(cur, (img_format_t)j->spec.format, j->spec.compression, &out->data,
                        &out->len);
    img_free(&sized);
    img_free(&rgba);
    img_free(&in_sized);
    img_free(&comp);
    free(mask_sized);
    return rc;
}

static void run_images(job_t *j, const gen_backend_t *backend, void *model);

static void load_progress(void *user, double fraction) {
    job_t *j = user;
    atomic_store(&j->loading, (int)(fraction * 1000.0 + 0.5));
}

static void run_job(queue_t *q, job_t *j) {
    const gen_backend_t *backend;
    void *model;
    char err[256] = "";
    int rc = registry_acquire(q->models, j->spec.model_id, &backend, &model, load_progress, j, err,
                              sizeof err);
    atomic_store(&j->loading, -1);
    if (rc) {
        /* for operators (CLI, server log); the HTTP answer uses its own generic message */
        char msg[300];
        snprintf(msg, sizeof msg, "the model could not be loaded: %s", err);
        job_finish(j, JOB_FAILED, IMG_EMODEL, msg);
        return;
    }
    run_images(j, backend, model);
    registry_release(q->models, j->spec.model_id);
}

static void run_images(job_t *j, const gen_backend_t *backend, void *model) {
    j->input_tokens = backend->count_tokens(model, j->spec.prompt);
    j->images = calloc((size_t)j->spec.n, sizeof *j->images);
    if (!j->images) {
        job_finish(j, JOB_FAILED, IMG_ENOMEM, "Out of memory.");
        return;
    }
    for (int i = 0; i < j->spec.n; i++) {
        atomic_store(&j->image, i);
        gen_params_t p = {
            .prompt = j->spec.prompt,
            .negative_prompt = j->spec.negative_prompt,
            .width = j->spec.width,
            .height = j->spec.height,
            .quality = j->spec.quality,
            .transparent = j->spec.background == BACKGROUND_TRANSPARENT,
            .seed = j->spec.seed + (uint32_t)i,
            .previews = j->spec.previews,
            .init_image = j->spec.init_image,
            .mask = j->spec.mask,
            .strength = j->spec.strength,
            .more_images = j->spec.more_images,
            .nmore = j->spec.nmore,
            .loras = j->spec.loras,
            .nloras = j->spec.nloras,
            .settings = j->spec.settings,
        };
        img_t raw = {0};
        char adapter_msg[300] = "";
        p.message = adapter_msg;
        p.message_len = sizeof adapter_msg;
        int rc = backend->generate(model, &p, progress_check, j, &raw);
        if (rc == IMG_OK && atomic_load(&j->cancel)) rc = IMG_ECANCELLED;
        if (rc == IMG_ECANCELLED && !atomic_load(&j->cancel) && atomic_exchange(&j->skip, 0)) {
            img_free(&raw); /* skipped: this image is left out, the batch goes on */
            continue;
        }
        atomic_store(&j->skip, 0); /* a skip that came after the image was done */
        if (rc == IMG_OK) rc = postprocess(j, &raw, &j->images[j->n_images]);
        img_free(&raw);
        if (rc == IMG_ECANCELLED) {
            job_finish(j, JOB_CANCELLED, cancelled_reason(j), "The job was cancelled.");
            return;
        }
        if (rc == IMG_EADAPTER) {
            job_finish(j, JOB_FAILED, IMG_EADAPTER,
                       adapter_msg[0] ? adapter_msg : "A LoRA does not apply to this model.");
            return;
        }
        if (rc == IMG_EUNSUPPORTED) {
            job_finish(j, JOB_FAILED, IMG_EUNSUPPORTED, "The model cannot edit images.");
            return;
        }
        if (rc) {
            job_finish(j, JOB_FAILED, rc == IMG_ENOMEM ? IMG_ENOMEM : IMG_EMODEL,
                       "The model failed to generate the image.");
            return;
        }
        j->images[j->n_images].seed = p.seed;
        j->n_images++;
    }
    job_finish(j, JOB_DONE, IMG_OK, NULL);
}

static void *worker_main(void *arg) {
    queue_t *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->cv, &q->mu);
        if (!q->head) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        job_t *j = q->head;
        q->head = j->next;
        if (!q->head) q->tail = NULL;
        q->depth--;
        q->running++;
        pthread_mutex_unlock(&q->mu);

        pthread_mutex_lock(&j->mu);
        int cancel = atomic_load(&j->cancel);
        double now = clock_mono();
        if (!cancel && (now > j->spec.deadline ||
                        (j->spec.start_deadline > 0 && now > j->spec.start_deadline)))
            cancel = IMG_ETIMEDOUT;
        if (!cancel) {
            j->state = JOB_RUNNING;
            j->started = clock_mono();
        }
        pthread_mutex_unlock(&j->mu);
        if (cancel)
            job_finish(j, JOB_CANCELLED, cancel, "The job was cancelled before it started.");
        else if (q->runner.run)
            q->runner.run(q->runner.ctx, j);
        else
            run_job(q, j);
        job_release(j);

        pthread_mutex_lock(&q->mu);
        q->running--;
        pthread_mutex_unlock(&q->mu);
    }
}

int queue_create(registry_t *models, int workers, int capacity, queue_t **out) {
    return queue_create_with(models, NULL, workers, capacity, out);
}

int queue_create_with(registry_t *models, const job_runner_t *runner, int workers, int capacity,
                      queue_t **out) {
    if (workers < 1 || capacity < 1) return IMG_EINVAL;
    queue_t *q = calloc(1, sizeof *q);
    if (!q) return IMG_ENOMEM;
    if (runner) q->runner = *runner;
    q->threads = calloc((size_t)workers, sizeof *q->threads);
    if (!q->threads) {
        free(q);
        return IMG_ENOMEM;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->capacity = capacity;
    q->models = models;
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&q->threads[i], NULL, worker_main, q) != 0) break;
        q->nthreads++;
    }
    if (q->nthreads == 0) {
        queue_free(q);
        return IMG_ENOMEM;
    }
    *out = q;
    return IMG_OK;
}

void queue_free(queue_t *q) {
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    for (job_t *j = q->head; j; j = j->next)
        job_cancel(j, IMG_ECANCELLED);
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q->threads);
    free(q);
}

int queue_submit(queue_t *q, job_t *j) {
    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        pthread_mutex_unlock(&q->mu);
        return IMG_ECANCELLED;
    }
    if ((int)q->depth >= q->capacity) {
        pthread_mutex_unlock(&q->mu);
        return IMG_EBUSY;
    }
    atomic_fetch_add(&j->refs, 1);
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->depth++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return IMG_OK;
}

size_t queue_depth(queue_t *q) {
    pthread_mutex_lock(&q->mu);
    size_t d = q->depth;
    pthread_mutex_unlock(&q->mu);
    return d;
}

size_t queue_running(queue_t *q) {
    pthread_mutex_lock(&q->mu);
    size_t d = q->running;
    pthread_mutex_unlock(&q->mu);
    return d;
}

int queue_capacity(queue_t *q) {
    return q->capacity;
}

int job_image_tokens(job_t *j) { return j->spec.image_tokens; }
