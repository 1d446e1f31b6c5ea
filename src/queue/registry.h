/* registry.h - the installed models: their profiles, and loading on first use. */
#ifndef IMGAPI_QUEUE_REGISTRY_H
#define IMGAPI_QUEUE_REGISTRY_H
#include "queue/generator.h"

typedef struct registry registry_t;

/* Builds the registry from the backends' model lists. IMG_ENOTFOUND (with a reason in err) when
 * no backend offers a model. default_model may be "" (the first model). */
int registry_create(const gen_backend_t *const *backends, size_t nbackends, const config_t *cfg,
                    registry_t **out, char *err, size_t errlen);
void registry_free(registry_t *r);
size_t registry_count(const registry_t *r);
const model_profile_t *registry_profile(const registry_t *r, size_t i);
/* Finds a model by id; "gpt-image-1-mini" names the default model. NULL when unknown. */
const model_profile_t *registry_find(const registry_t *r, const char *id);
const model_profile_t *registry_default(const registry_t *r);
/* Returns the loaded model (loading it on first use) and its backend, and marks it in use until
 * registry_release: a model in use is never unloaded. Models idle for cfg->model_idle_seconds
 * are unloaded by a background thread and loaded again on their next use. */
int registry_acquire(registry_t *r, const char *id, const gen_backend_t **backend, void **model,
                     gen_load_progress_fn progress, void *user, char *err, size_t errlen);
void registry_release(registry_t *r, const char *id);
/* Loads the default model on a background thread, as its first use would, then calls
 * done(user, id, status, reason, seconds) on that thread (reason: "" on success). Requests for it
 * meanwhile wait for that load instead of starting their own. registry_free waits for a load in
 * progress. IMG_EINVAL when called twice. */
typedef void (*registry_preload_fn)(void *user, const char *id, int status, const char *reason,
                                    double seconds);
int registry_preload(registry_t *r, registry_preload_fn done, void *user);
/* Is the model loaded now, and how many times has it been loaded? */
int registry_state(registry_t *r, const char *id, int *loaded, int *loads);
/* Adapter (LoRA) merges of all models since the start, and their seconds in all. */
void registry_adapter_stats(registry_t *r, long *merges, double *seconds);
/* 1 when at least one model is loaded or its backend can load it. */
int registry_ready(const registry_t *r);

#define REGISTRY_ALIAS "gpt-image-1-mini"

#endif
