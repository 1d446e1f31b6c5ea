/* backend.h - the engine as the server's generator backend: the models of the configuration,
 * their quality profiles, and generation through eng_generate. */
#ifndef IMGAPI_ENGINE_BACKEND_H
#define IMGAPI_ENGINE_BACKEND_H
#include "queue/generator.h"

/* The backend (static, stateless: its models live in the registry). */
const gen_backend_t *engine_backend(void);

/* The quality profile of a model kind: steps, guidance, sampler and schedule per quality. */
typedef struct {
    int steps;
    float guidance;
    int sampler;  /* sampler_kind_t */
    int schedule; /* eng_schedule_t */
} quality_profile_t;
void engine_quality_profile(int turbo, api_quality_t q, quality_profile_t *out);
/* The model's working resolution for a requested size: the native resolution on the short side,
 * the requested aspect, multiples of 64. */
void engine_native_size(int native, int width, int height, int *w, int *h);

#endif
