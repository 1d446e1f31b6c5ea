/* metrics.c - small fixed tables of labelled counters, guarded by one mutex. */
#include "server/metrics.h"
#include "common/status.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 128
static const double BUCKETS[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
#define NBUCKETS (sizeof BUCKETS / sizeof BUCKETS[0])

typedef struct {
    char label[48];
    int status;
    uint64_t count;
} series_t;

typedef struct {
    char outcome[16];
    uint64_t buckets[NBUCKETS];
    uint64_t count;
    double sum;
} hist_t;

struct metrics {
    pthread_mutex_t mu;
    series_t requests[MAX_SERIES];
    int nrequests;
    hist_t jobs[8];
    int njobs;
    series_t refusals[32];
    int nrefusals;
    int64_t charged_micro;
};

int metrics_create(metrics_t **out) {
    metrics_t *m = calloc(1, sizeof *m);
    if (!m) return IMG_ENOMEM;
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return IMG_OK;
}

void metrics_free(metrics_t *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static void bump(series_t *s, int *n, int cap, const char *label, int status) {
    for (int i = 0; i < *n; i++)
        if (s[i].status == status && strcmp(s[i].label, label) == 0) {
            s[i].count++;
            return;
        }
    if (*n == cap) return;
    strncpy(s[*n].label, label, sizeof s[*n].label - 1);
    s[*n].status = status;
    s[*n].count = 1;
    (*n)++;
}

void metrics_request(metrics_t *m, const char *route, int status) {
    pthread_mutex_lock(&m->mu);
    bump(m->requests, &m->nrequests, MAX_SERIES, route, status);
    pthread_mutex_unlock(&m->mu);
}

void metrics_moderation_refusal(metrics_t *m, const char *category) {
    pthread_mutex_lock(&m->mu);
    bump(m->refusals, &m->nrefusals, 32, category, 0);
    pthread_mutex_unlock(&m->mu);
}

void metrics_job(metrics_t *m, const char *outcome, double seconds) {
    pthread_mutex_lock(&m->mu);
    hist_t *h = NULL;
    for (int i = 0; i < m->njobs; i++)
        if (strcmp(m->jobs[i].outcome, outcome) == 0) h = &m->jobs[i];
    if (!h && m->njobs < 8) {
        h = &m->jobs[m->njobs++];
        strncpy(h->outcome, outcome, sizeof h->outcome - 1);
    }
    if (h) {
        for (size_t b = 0; b < NBUCKETS; b++)
            if (seconds <= BUCKETS[b]) h->buckets[b]++;
        h->count++;
        h->sum += seconds;
    }
    pthread_mutex_unlock(&m->mu);
}

void metrics_charged(metrics_t *m, int64_t micro) {
    pthread_mutex_lock(&m->mu);
    m->charged_micro += micro;
    pthread_mutex_unlock(&m->mu);
}

int metrics_render(metrics_t *m, buf_t *o, long depth, long running, long capacity, long lora_merges,
                   double lora_merge_seconds) {
    pthread_mutex_lock(&m->mu);
    int rc = 0;
    rc |= buf_printf(o, "# HELP imgapi_lora_merge_seconds Time spent merging adapters (LoRA) into copies of a model.\n"
                        "# TYPE imgapi_lora_merge_seconds summary\n"
                        "imgapi_lora_merge_seconds_sum %.6f\nimgapi_lora_merge_seconds_count %ld\n",
                     lora_merge_seconds, lora_merges);
    rc |= buf_printf(o, "# HELP imgapi_http_requests_total HTTP requests by route and status.\n"
                        "# TYPE imgapi_http_requests_total counter\n");
    for (int i = 0; i < m->nrequests; i++)
        rc |= buf_printf(o, "imgapi_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                         m->requests[i].label, m->requests[i].status,
                         (unsigned long long)m->requests[i].count);
    rc |= buf_printf(o, "# HELP imgapi_queue_depth Jobs waiting in the queue.\n"
                        "# TYPE imgapi_queue_depth gauge\nimgapi_queue_depth %ld\n"
                        "# HELP imgapi_jobs_running Jobs being generated now.\n"
                        "# TYPE imgapi_jobs_running gauge\nimgapi_jobs_running %ld\n"
                        "# HELP imgapi_queue_capacity Queue size limit.\n"
                        "# TYPE imgapi_queue_capacity gauge\nimgapi_queue_capacity %ld\n",
                     depth, running, capacity);
    rc |= buf_printf(o, "# HELP imgapi_job_duration_seconds Time from job start to its end.\n"
                        "# TYPE imgapi_job_duration_seconds histogram\n");
    for (int i = 0; i < m->njobs; i++) {
        hist_t *h = &m->jobs[i];
        for (size_t b = 0; b < NBUCKETS; b++)
            rc |= buf_printf(o, "imgapi_job_duration_seconds_bucket{outcome=\"%s\",le=\"%g\"} %llu\n",
                             h->outcome, BUCKETS[b], (unsigned long long)h->buckets[b]);
        rc |= buf_printf(o, "imgapi_job_duration_seconds_bucket{outcome=\"%s\",le=\"+Inf\"} %llu\n"
                            "imgapi_job_duration_seconds_sum{outcome=\"%s\"} %.6f\n"
                            "imgapi_job_duration_seconds_count{outcome=\"%s\"} %llu\n",
                         h->outcome, (unsigned long long)h->count, h->outcome, h->sum, h->outcome,
                         (unsigned long long)h->count);
    }
    rc |= buf_printf(o, "# HELP imgapi_credits_charged_usd_total Credits charged since start.\n"
                        "# TYPE imgapi_credits_charged_usd_total counter\n"
                        "imgapi_credits_charged_usd_total %.6f\n",
                     (double)m->charged_micro / 1e6);
    rc |= buf_printf(o, "# HELP imgapi_moderation_refusals_total Prompts refused by moderation.\n"
                        "# TYPE imgapi_moderation_refusals_total counter\n");
    for (int i = 0; i < m->nrefusals; i++)
        rc |= buf_printf(o, "imgapi_moderation_refusals_total{category=\"%s\"} %llu\n",
                         m->refusals[i].label, (unsigned long long)m->refusals[i].count);
    pthread_mutex_unlock(&m->mu);
    return rc ? IMG_ENOMEM : IMG_OK;
}
