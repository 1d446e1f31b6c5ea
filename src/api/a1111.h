/* a1111.h - the AUTOMATIC1111 / Forge web API's request and answer shapes (/sdapi/v1/txt2img):
 * its JSON into an api_request_t that the shared admission path runs, its sampler and scheduler
 * names, and its answer ({"images", "parameters", "info"}). Pure: no I/O. */
#ifndef IMGAPI_API_A1111_H
#define IMGAPI_API_A1111_H
#include "api/request.h"

/* The sampler and scheduler names answered by /sdapi/v1/samplers and /schedulers, in
 * api_sampler_t / api_schedule_t order from 1 (index 0: "Automatic", the profile's). */
extern const char *const A1111_SAMPLERS[];
extern const char *const A1111_SCHEDULERS[];     /* the scheduler's name ("karras") */
extern const char *const A1111_SCHEDULER_LABELS[]; /* its label ("Karras") */
#define A1111_NSAMPLERS 5
#define A1111_NSCHEDULERS 4

/* What an A1111 request asked beyond api_request_t, for its answer. */
typedef struct {
    int steps;             /* as asked (0: the model's) */
    double cfg_scale;      /* as asked (0: the model's) */
    char sampler[32];      /* the sampler's name as the answer gives it */
    char scheduler[32];    /* the scheduler's name */
    int batch_size, n_iter;
    int send_images;
    char model[64];        /* override_settings.sd_model_checkpoint, or "" */
    /* img2img: the mask as sent (white = repaint; owned, or NULL) and how to use it */
    uint8_t *mask;
    size_t mask_len;
    int mask_blur;   /* pixels */
    int mask_invert; /* inpainting_mask_invert: repaint what is black */
    int fill;        /* inpainting_fill: 0 fill, 1 original */
    int full_res;    /* inpaint_full_res: only the masked region, at the full size */
    int padding;     /* inpaint_full_res_padding, pixels */
} a1111_extra_t;

/* Parses a /sdapi/v1/txt2img body into *out (free with api_request_free) and *x. Fields the
 * API takes and imgapi cannot honour (hires fix, face restoration, tiling, scripts, styles,
 * subseeds) are a 400 naming them when set to anything but their defaults; unknown sampler or
 * scheduler names are a 400 listing the known ones; other unknown fields are ignored, as A1111
 * does. Returns 0, or -1 with *err (a 400). */
int a1111_parse_txt2img(const char *body, size_t len, api_request_t *out, a1111_extra_t *x,
                        api_error_t *err);
/* Parses a /sdapi/v1/img2img body: txt2img's fields and init_images (into out->image[]),
 * denoising_strength, mask (into x->mask; free with a1111_extra_free), mask_blur,
 * inpainting_mask_invert, inpainting_fill (0 fill and 1 original; 2 and 3 are a 400),
 * inpaint_full_res and its padding, resize_mode 0 (other modes are a 400). */
int a1111_parse_img2img(const char *body, size_t len, api_request_t *out, a1111_extra_t *x,
                        api_error_t *err);
void a1111_extra_free(a1111_extra_t *x);
/* The answer: images (base64 PNG, unless send_images was false), the parameters as resolved
 * and the info string (a JSON text with the seeds and the infotexts A1111 writes). images[i]
 * are n encoded images with their seeds; model: the model's id. malloc'd JSON or NULL. */
char *a1111_answer(const api_request_t *q, const a1111_extra_t *x, const char *model,
                   const uint8_t *const *images, const size_t *lens, const uint32_t *seeds, int n,
                   int steps, double cfg_scale, const char *sampler, const char *scheduler);

#endif
