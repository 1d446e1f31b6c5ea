/* queue.h - bounded job queue, worker threads, deadlines and cancellation.
 *
 * A job is reference-counted: the submitter holds one reference, the queue/worker another, so
 * either side may give up first. State moves QUEUED -> RUNNING -> DONE | FAILED | CANCELLED
 * exactly once; the ledger is settled by whoever owns the request (the HTTP handler), never here.
 */
#ifndef IMGAPI_QUEUE_QUEUE_H
#define IMGAPI_QUEUE_QUEUE_H
#include "api/params.h"
#include "queue/registry.h"
#include <stddef.h>
#include <stdint.h>

typedef enum { JOB_QUEUED = 0, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED } job_state_t;

typedef struct {
    uint8_t *data; /* encoded image, owned by the job */
    size_t len;
    uint32_t seed;
} job_image_t;

typedef struct job job_t;

typedef struct {
    char model_id[64];
    const char *prompt, *negative_prompt; /* copied into the job */
    int width, height;
    api_quality_t quality;
    api_background_t background; /* resolved: OPAQUE or TRANSPARENT */
    api_format_t format;
    int compression;
    int n;
    uint32_t seed;         /* image i uses seed + i */
    double deadline;       /* clock_mono() seconds */
    double start_deadline; /* when > 0: a job not started by then ends (IMG_ETIMEDOUT) unstarted */
    int previews;          /* keep a preview of the image after every step */
    /* edits (copied into the job): the input image, its mask (init_image's width x height,
     * nonzero = repaint; NULL: the whole image) and the share of the schedule run again */
    const img_t *init_image;
    const uint8_t *mask;
    float strength;
    /* a multi-image edit's other images (copied into the job), any size: references for a
     * model that edits by reference (FLUX.2); nmore 0 otherwise */
    const img_t *more_images;
    int nmore;
    int image_tokens; /* the input images' tokens, reported in usage */
    int nloras;       /* adapters (copied with the spec) */
    api_lora_t loras[API_MAX_LORAS];
    api_settings_t settings; /* steps, guidance, sampler, schedule beside the quality's (0: its) */
} job_spec_t;

typedef struct queue queue_t;

/* What runs a job a queue thread has taken: by default the models of this process; the
 * PostgreSQL job queue (queue/pgqueue.h) hands it to a worker process instead. run() must end
 * the job (job_complete or job_end) before it returns. */
typedef struct {
    void *ctx;
    void (*run)(void *ctx, job_t *j);
} job_runner_t;

/* Starts `workers` threads serving at most `capacity` queued jobs with the local models. */
int queue_create(registry_t *models, int workers, int capacity, queue_t **out);
/* The same with another runner (copied; its ctx must outlive the queue). */
int queue_create_with(registry_t *models, const job_runner_t *runner, int workers, int capacity,
                      queue_t **out);
/* Cancels queued jobs, waits for running ones to stop, joins the workers, frees. */
void queue_free(queue_t *q);
/* Creates a job (one reference, the caller's). */
int job_create(const job_spec_t *spec, const char *id, job_t **out);
void job_release(job_t *j); /* drops one reference */
/* Queues the job (the queue takes its own reference). IMG_EBUSY when full, IMG_ECANCELLED when
 * shutting down. */
int queue_submit(queue_t *q, job_t *j);
size_t queue_depth(queue_t *q);
size_t queue_running(queue_t *q);
int queue_capacity(queue_t *q);

/* Waits until the job ends or `seconds` pass; returns the state then. */
job_state_t job_wait(job_t *j, double seconds);
/* Asks the job to stop with a reason (IMG_ECANCELLED or IMG_ETIMEDOUT). A job already ended
 * keeps its state. */
void job_cancel(job_t *j, int reason);
/* Asks the job to stop the image it is generating and go on with the next of its batch; the
 * skipped image is left out of job_images. Only the local queue's runner honours it. */
void job_skip(job_t *j);
/* Cancels the job only if no worker has started it: returns 1 when it did (the job then ends
 * CANCELLED without running), 0 when it is running or over. */
int job_cancel_if_queued(job_t *j, int reason);
job_state_t job_state(job_t *j);
/* The input images' tokens of an edit (job_spec_t.image_tokens), 0 for a generation. */
int job_image_tokens(job_t *j);
const char *job_id(const job_t *j);
/* After DONE: the images (n of them). */
const job_image_t *job_images(const job_t *j, int *n);
/* After FAILED/CANCELLED: the status and a message for operators (it may name files: never
 * send it to API clients). */
int job_error(const job_t *j, const char **message);
int job_input_tokens(const job_t *j);
/* While the job's model is being loaded for it: the share loaded in permille; -1 otherwise. */
int job_loading(job_t *j);
/* Progress of a running job: image index (0-based), sampling step done and steps in all. */
void job_progress(job_t *j, int *image, int *step, int *steps);
/* A copy of the latest step preview (caller frees with img_free) and its step; IMG_ENOTFOUND
 * before the first one or when the model cannot make previews. */
int job_preview(job_t *j, img_t *out, int *step);
double job_run_seconds(const job_t *j);

/* For job runners. The job's parameters (prompt strings owned by the job). */
const job_spec_t *job_spec(const job_t *j);
/* 0 while the job may go on; else why it must stop (IMG_ECANCELLED, or IMG_ETIMEDOUT once its
 * deadline passed). */
int job_stop_reason(job_t *j);
/* Ends the job DONE with n images (takes the array and their data, malloc'd). */
void job_complete(job_t *j, job_image_t *images, int n, int input_tokens);
/* Progress reported by a runner that is not the local models (a gateway relaying a worker's):
 * what job_progress, job_loading and job_preview then read. The preview is copied. */
void job_set_progress(job_t *j, int image, int step, int steps, int loading_permille);
int job_set_preview(job_t *j, const img_t *preview, int step);
/* Ends the job FAILED or CANCELLED with a status and an operator message. */
void job_end(job_t *j, job_state_t st, int error, const char *message);

#endif
