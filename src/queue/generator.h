/* generator.h - what the queue needs from an image generator (the engine, or a test double).
 *
 * A backend lists the models it can serve, loads one by id, and generates one image at a time
 * with a progress callback that may cancel. The server knows nothing else of the engine. */
#ifndef IMGAPI_QUEUE_GENERATOR_H
#define IMGAPI_QUEUE_GENERATOR_H
#include "api/loras.h"
#include "api/params.h"
#include "config/config.h"
#include "image/image.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char id[64];                 /* model id: the /v1/{model} slug */
    char description[160];
    api_size_t default_size;     /* what `size: auto` becomes */
    api_quality_t default_quality;
    api_background_t default_background;
    int can_edit;         /* image to image (it has an image encoder) */
    int can_inpaint;      /* edits inside a mask */
    int max_input_images; /* input images one edit takes (0 when it cannot edit) */
    api_settings_t settings; /* what its default quality runs (steps, guidance, sampler, schedule) */
} model_profile_t;

typedef struct {
    const char *prompt;
    const char *negative_prompt;
    int width, height;     /* the exact size the client asked for */
    api_quality_t quality; /* resolved, never AUTO */
    int transparent;       /* the client wants a separable background */
    uint32_t seed;
    int previews;          /* ask for step previews */
    /* edits: the input image (any size: the backend resamples it to its working size), its
     * mask (the input's width x height, nonzero = repaint; NULL: the whole image) and strength;
     * a backend that cannot edit returns IMG_EUNSUPPORTED */
    const img_t *init_image;
    const uint8_t *mask;
    float strength;
    /* a multi-image edit's other images (any size), for a model whose max_input_images
     * allows them; a backend that cannot take them returns IMG_EUNSUPPORTED */
    const img_t *more_images;
    int nmore;
    /* adapters to merge into the model first (names in the configured LoRA folder); a backend
     * that cannot apply one returns IMG_EADAPTER with a message for the client */
    const api_lora_t *loras;
    int nloras;
    api_settings_t settings; /* overrides of the quality's profile (0 fields: the profile's) */
    char *message; /* out (may be NULL): with IMG_EADAPTER, what the client is told */
    size_t message_len;
} gen_params_t;

/* Called after each sampling step, with a preview of the image when asked for and possible
 * (valid during the call only); a nonzero return cancels the generation. */
typedef int (*gen_progress_fn)(void *user, int step, int total_steps, const img_t *preview);

/* Called while a model loads with the share of its weights read so far (0..1). */
typedef void (*gen_load_progress_fn)(void *user, double fraction);

typedef struct gen_backend {
    const char *name;
    void *ctx; /* backend-owned state (configuration, paths) */
    /* Lists the models; *out is malloc'd, the caller frees it. */
    int (*list)(void *ctx, const config_t *cfg, model_profile_t **out, size_t *n, char *err,
                size_t errlen);
    /* progress (may be NULL) is called from the loading thread with the share loaded, 0..1 */
    int (*load)(void *ctx, const config_t *cfg, const char *model_id, void **model,
                gen_load_progress_fn progress, void *user, char *err, size_t errlen);
    int (*count_tokens)(void *model, const char *prompt);
    /* Fills *out (RGB, any size: the caller resamples to the exact size). IMG_ECANCELLED when
     * progress asked to stop. Must be safe to call from several threads at once. */
    int (*generate)(void *model, const gen_params_t *p, gen_progress_fn progress, void *user,
                    img_t *out);
    void (*unload)(void *model);
    /* Optional (NULL: none): the adapter merges the model has made and their seconds in all. */
    void (*adapter_stats)(void *model, long *merges, double *seconds);
} gen_backend_t;

#endif
