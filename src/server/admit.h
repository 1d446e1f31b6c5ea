/* admit.h - what the synchronous and asynchronous generation routes share: the admission arrows
 * of DESIGN.md (validate -> auth -> model access -> moderation -> rate limit -> reserve), undoing
 * what was taken when a later arrow fails, and the response JSON of a finished job. */
#ifndef IMGAPI_SERVER_ADMIT_H
#define IMGAPI_SERVER_ADMIT_H
#include "api/request.h"
#include "server/internal.h"

typedef struct {
    req_t *r;
    api_request_t q;
    const model_profile_t *model;
    store_key_t key;
    api_size_t size; /* resolved from auto by the model's profile */
    api_quality_t quality;
    api_background_t background;
    double timeout;     /* seconds (x-timeout-seconds or the configured deadline) */
    int64_t cost;       /* micro-dollars */
    char idem_key[256]; /* sync route only */
    int idem_owned;
    int limit_held; /* holds one concurrency slot of the key's rate limit */
    int reserved;   /* credits reserved under r->request_id */
    /* the answer of a finished job when not the route's own JSON (A1111): malloc'd body or NULL */
    char *(*answer)(void *ctx, job_t *job);
    /* the 200 answer of a job cancelled on purpose (A1111's interrupt; nothing is charged), and
     * the job's queued and finished moments (on 1, then 0) for a route that lists its jobs */
    char *(*interrupted_answer)(void *ctx, job_t *job);
    void (*track)(void *ctx, job_t *job, int on);
    int previews; /* keep step previews for a progress route (A1111's current_image) */
    void *answer_ctx;
    hdr_t hdrs[8];
    char hbuf[8][48];
    int nhdrs;
} admit_t;

/* Parses and checks the request up to (not including) rate limits: body, deadline header,
 * model, key, model access, moderation, then resolves auto values. On failure fills *e and
 * returns -1 (nothing is held). The caller frees a->q with api_request_free either way. */
int admit_check(admit_t *a, req_t *r, api_route_kind_t kind, const char *model_name,
                api_error_t *e);
/* The same for a request already parsed into a->q (a->r set, the rest zero; the A1111 routes):
 * deadline header, model, key, model access, moderation, auto values. */
int admit_check_parsed(admit_t *a, api_route_kind_t kind, const char *model_name, api_error_t *e);
/* Takes a rate-limit slot and reserves the cost under r->request_id; fills *e on failure
 * (429 with Retry-After, 406, 500) and returns -1 (the caller answers with admit_fail). */
int admit_take(admit_t *a, api_error_t *e);
/* Undoes what was taken (reservation, rate-limit slot, idempotency record) and answers *e. */
enum MHD_Result admit_fail(admit_t *a, const api_error_t *e);
/* The same undoing without an answer (a streamed request's answer has already begun); body: the
 * error JSON kept for an idempotent retry, or NULL. */
void admit_release(admit_t *a, const api_error_t *e, const char *body);
/* Charges the reserved cost of a finished job (idem_body: the answer an idempotent retry gets,
 * or NULL), frees the rate-limit slot and adds the x-credits-charged / x-remaining-credits
 * headers. On failure fills *e (500) and returns -1; the reservation is then still held. */
int admit_charge(admit_t *a, const char *idem_body, api_error_t *e);
/* The error for a job that did not finish (deadline, client gone, shutdown, failure), counted in
 * the metrics; `gone`, `shutdown`, `timed_out`: what the waiting handler saw. */
void admit_job_error(admit_t *a, job_t *job, job_state_t st, int gone, int shutdown,
                     int timed_out, api_error_t *e);
/* The job to run for an admitted request. */
void admit_job_spec(const admit_t *a, job_spec_t *spec);
/* 400 (param "loras") unless every adapter q names is a file in cfg->lora_dir. */
int admit_loras_exist(const config_t *cfg, const api_request_t *q, api_error_t *e);
/* Creates the job under r->request_id and queues it (*job: the caller's reference). On failure
 * fills *e (500 out of memory, 429 queue_full with Retry-After, 502 shutting down), leaves *job
 * NULL and returns -1; the caller answers with admit_fail. */
int admit_enqueue(admit_t *a, const job_spec_t *spec, job_t **job, api_error_t *e);
void admit_hdr(admit_t *a, const char *name, const char *value);
void admit_hdrf(admit_t *a, const char *name, const char *fmt, double v);

/* The synchronous route's success body for a finished job (malloc'd JSON, NULL when out of
 * memory). */
char *admit_response_json(job_t *job, api_size_t size, api_quality_t quality, api_background_t bg,
                          api_format_t format);

#endif
