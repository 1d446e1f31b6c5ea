/* backend.h - the engine as the server's generator backend: the models of the configuration,
 * their quality profiles, and generation through eng_generate. */
#ifndef IMGAPI_ENGINE_BACKEND_H
#define IMGAPI_ENGINE_BACKEND_H
#include "engine/engine.h"
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
typedef enum { PROFILE_STANDARD = 0, PROFILE_TURBO, PROFILE_FLUX2_KLEIN } profile_kind_t;
/* The kind a model's `profile` setting names ("standard", "turbo", "flux2-klein"). */
profile_kind_t engine_profile_kind(const char *profile);
void engine_quality_profile(profile_kind_t kind, api_quality_t q, quality_profile_t *out);
/* A request's settings over a profile (its zero fields leave the profile's). */
void engine_apply_settings(const api_settings_t *s, quality_profile_t *q);
/* A profile as a request's settings (every field set). */
void engine_profile_settings(const quality_profile_t *q, api_settings_t *s);

#define ENGINE_BUILTIN_MODEL "imgapi-shapes"
/* The installed models: the configured ones, then the built-in model unless config turns it off
 * (builtin_model = 0) or a configured model takes its id. out has room for CONFIG_MAX_MODELS + 1;
 * the pointers live as long as cfg. Returns the count. */
int engine_models(const config_t *cfg, const config_model_t **out);
/* The engine's load options for configured model m (paths point into m and tok; tok gets the
 * tokenizer's path when it is a diffusers folder's own, toklen bytes). */
void engine_load_opts(const config_t *cfg, const config_model_t *m, eng_load_opts_t *o, char *tok, size_t toklen);
/* The installed model with this id, or NULL. */
const config_model_t *engine_model(const config_t *cfg, const char *id);
/* The model's working resolution for a requested size: the native resolution on the short side,
 * the requested aspect, sides rounded to multiples of `multiple` (eng_info_t.multiple). */
void engine_native_size(int native, int multiple, int width, int height, int *w, int *h);

#endif
