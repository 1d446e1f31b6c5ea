/* test_queue.c - the rate limiter, the worker pool, deadlines, cancellation, the registry. */
#include "common/clock.h"
#include "common/status.h"
#include "queue/queue.h"
#include "server/ratelimit.h"
#include "tests/support/fake_backend.h"
#include "tests/unit/harness.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

void test_ratelimit_bucket(void) {
    ratelimit_t *r;
    CHECK(ratelimit_create(&r) == IMG_OK);
    rl_result_t res;
    for (int i = 0; i < 3; i++) {
        ratelimit_acquire(r, "k", 3, 100, 100.0, &res);
        CHECK(res.allowed && res.remaining == 2 - i && res.limit == 3);
        ratelimit_release(r, "k");
    }
    ratelimit_acquire(r, "k", 3, 100, 100.0, &res);
    CHECK(!res.allowed && !res.over_concurrency);
    CHECK(res.retry_after > 19.0 && res.retry_after <= 20.0); /* one token per 20 s */
    ratelimit_acquire(r, "k", 3, 100, 120.5, &res);
    CHECK(res.allowed);
    ratelimit_release(r, "k");
    ratelimit_acquire(r, "other", 3, 100, 100.0, &res); /* per key */
    CHECK(res.allowed);
    ratelimit_free(r);
}

void test_ratelimit_concurrency(void) {
    ratelimit_t *r;
    CHECK(ratelimit_create(&r) == IMG_OK);
    rl_result_t res;
    ratelimit_acquire(r, "k", 100, 2, 1.0, &res);
    CHECK(res.allowed);
    ratelimit_acquire(r, "k", 100, 2, 1.0, &res);
    CHECK(res.allowed);
    ratelimit_acquire(r, "k", 100, 2, 1.0, &res);
    CHECK(!res.allowed && res.over_concurrency && res.retry_after >= 1);
    ratelimit_release(r, "k");
    ratelimit_acquire(r, "k", 100, 2, 1.0, &res);
    CHECK(res.allowed);
    ratelimit_free(r);
}

static config_t test_cfg;

static registry_t *make_registry(void) {
    const gen_backend_t *b[] = {fake_backend()};
    registry_t *reg = NULL;
    char err[256];
    config_defaults(&test_cfg);
    CHECK(registry_create(b, 1, &test_cfg, &reg, err, sizeof err) == IMG_OK);
    return reg;
}

static job_spec_t spec_for(const char *prompt) {
    job_spec_t s = {.prompt = prompt, .negative_prompt = "", .width = 1536, .height = 1024,
                    .quality = QUALITY_LOW, .background = BACKGROUND_OPAQUE,
                    .format = FORMAT_PNG, .compression = 50, .n = 2, .seed = 7,
                    .deadline = clock_mono() + 60};
    strcpy(s.model_id, "test-model");
    return s;
}

void test_queue_runs_jobs(void) {
    registry_t *reg = make_registry();
    queue_t *q;
    CHECK(queue_create(reg, 2, 4, &q) == IMG_OK);
    job_spec_t s = spec_for("a red circle");
    job_t *j;
    CHECK(job_create(&s, "j1", &j) == IMG_OK);
    CHECK(queue_submit(q, j) == IMG_OK);
    CHECK(job_wait(j, 30) == JOB_DONE);
    int n;
    const job_image_t *im = job_images(j, &n);
    CHECK(n == 2 && im[0].seed == 7 && im[1].seed == 8);
    CHECK(im[0].len > 8 && memcmp(im[0].data, "\x89PNG", 4) == 0);
    CHECK(job_input_tokens(j) == 5);
    job_release(j);
    /* a failing model ends FAILED */
    s = spec_for("[fail]");
    CHECK(job_create(&s, "j2", &j) == IMG_OK);
    CHECK(queue_submit(q, j) == IMG_OK);
    CHECK(job_wait(j, 30) == JOB_FAILED);
    const char *msg;
    CHECK(job_error(j, &msg) == IMG_EMODEL && strlen(msg) > 0);
    job_release(j);
    /* an unknown model ends FAILED too */
    s = spec_for("x");
    strcpy(s.model_id, "nope");
    CHECK(job_create(&s, "j3", &j) == IMG_OK);
    CHECK(queue_submit(q, j) == IMG_OK);
    CHECK(job_wait(j, 30) == JOB_FAILED);
    job_release(j);
    queue_free(q);
    registry_free(reg);
}

void test_queue_full(void) {
    setenv("IMGAPI_TEST_STEP_MS", "50", 1);
    registry_t *reg = make_registry();
    queue_t *q;
    CHECK(queue_create(reg, 1, 1, &q) == IMG_OK);
    job_spec_t s = spec_for("x");
    job_t *a, *b, *c;
    CHECK(job_create(&s, "a", &a) == IMG_OK && job_create(&s, "b", &b) == IMG_OK &&
          job_create(&s, "c", &c) == IMG_OK);
    CHECK(queue_submit(q, a) == IMG_OK);
    while (job_state(a) == JOB_QUEUED) job_wait(a, 0.01); /* a is running */
    CHECK(queue_submit(q, b) == IMG_OK);                   /* b waits */
    CHECK(queue_submit(q, c) == IMG_EBUSY);                /* no room for c */
    CHECK(queue_depth(q) == 1);
    job_release(c);
    queue_free(q); /* cancels b, waits for a */
    CHECK(job_state(b) == JOB_CANCELLED);
    job_release(a);
    job_release(b);
    registry_free(reg);
    unsetenv("IMGAPI_TEST_STEP_MS");
}

void test_queue_cancel_and_deadline(void) {
    setenv("IMGAPI_TEST_STEP_MS", "100", 1);
    registry_t *reg = make_registry();
    queue_t *q;
    CHECK(queue_create(reg, 1, 4, &q) == IMG_OK);
    job_spec_t s = spec_for("x");
    job_t *j;
    CHECK(job_create(&s, "c", &j) == IMG_OK);
    CHECK(queue_submit(q, j) == IMG_OK);
    job_wait(j, 0.15);
    job_cancel(j, IMG_ECANCELLED);
    CHECK(job_wait(j, 5) == JOB_CANCELLED);
    const char *msg;
    CHECK(job_error(j, &msg) == IMG_ECANCELLED);
    job_release(j);
    s.deadline = clock_mono() + 0.15;
    CHECK(job_create(&s, "d", &j) == IMG_OK);
    CHECK(queue_submit(q, j) == IMG_OK);
    CHECK(job_wait(j, 5) == JOB_CANCELLED);
    CHECK(job_error(j, &msg) == IMG_ETIMEDOUT);
    job_release(j);
    queue_free(q);
    registry_free(reg);
    unsetenv("IMGAPI_TEST_STEP_MS");
}

void test_registry(void) {
    registry_t *reg = make_registry();
    CHECK(registry_count(reg) == 2);
    CHECK(strcmp(registry_default(reg)->id, "test-model") == 0);
    CHECK(registry_find(reg, "gpt-image-1-mini") == registry_default(reg));
    CHECK(registry_find(reg, "test-model-2") != NULL);
    CHECK(registry_find(reg, "nope") == NULL);
    registry_free(reg);
    const gen_backend_t *b[] = {fake_backend()};
    char err[256];
    strcpy(test_cfg.default_model, "test-model-2");
    CHECK(registry_create(b, 1, &test_cfg, &reg, err, sizeof err) == IMG_OK);
    CHECK(strcmp(registry_default(reg)->id, "test-model-2") == 0);
    registry_free(reg);
    strcpy(test_cfg.default_model, "missing");
    CHECK(registry_create(b, 1, &test_cfg, &reg, err, sizeof err) == IMG_ENOTFOUND);
    test_cfg.default_model[0] = 0;
    CHECK(registry_create(NULL, 0, &test_cfg, &reg, err, sizeof err) == IMG_ENOTFOUND);
    CHECK(strstr(err, "no model") != NULL);
}

void test_registry_idle_unload(void) {
    config_defaults(&test_cfg);
    test_cfg.model_idle_seconds = 1;
    const gen_backend_t *b[] = {fake_backend()};
    registry_t *reg;
    char err[256];
    CHECK(registry_create(b, 1, &test_cfg, &reg, err, sizeof err) == IMG_OK);
    const gen_backend_t *be;
    void *m;
    int loaded, loads;
    CHECK(registry_acquire(reg, "test-model", &be, &m, NULL, NULL, err, sizeof err) == IMG_OK);
    CHECK(registry_state(reg, "test-model", &loaded, &loads) == IMG_OK && loaded && loads == 1);
    struct timespec ts = {2, 300000000L};
    nanosleep(&ts, NULL); /* in use: never unloaded */
    CHECK(registry_state(reg, "test-model", &loaded, &loads) == IMG_OK && loaded);
    registry_release(reg, "test-model");
    nanosleep(&ts, NULL);
    CHECK(registry_state(reg, "test-model", &loaded, &loads) == IMG_OK && !loaded);
    CHECK(registry_acquire(reg, "test-model", &be, &m, NULL, NULL, err, sizeof err) == IMG_OK);
    CHECK(registry_state(reg, "test-model", &loaded, &loads) == IMG_OK && loaded && loads == 2);
    registry_release(reg, "test-model");
    registry_free(reg);
}
