/* metrics.h - counters and histograms exposed at /metrics in Prometheus text format. */
#ifndef IMGAPI_SERVER_METRICS_H
#define IMGAPI_SERVER_METRICS_H
#include "common/buf.h"
#include <stdint.h>

typedef struct metrics metrics_t;

int metrics_create(metrics_t **out);
void metrics_free(metrics_t *m);
void metrics_request(metrics_t *m, const char *route, int status);
void metrics_job(metrics_t *m, const char *outcome, double seconds);
void metrics_charged(metrics_t *m, int64_t micro);
void metrics_moderation_refusal(metrics_t *m, const char *category);
/* Appends the exposition text; queue figures are passed in by the caller. */
/* lora_*: the registry's adapter merges (registry_adapter_stats). */
int metrics_render(metrics_t *m, buf_t *out, long queue_depth, long queue_running, long queue_capacity,
                   long lora_merges, double lora_merge_seconds);

#endif
