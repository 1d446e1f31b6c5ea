/* a1111.h - the AUTOMATIC1111 / Forge web API (/sdapi/v1/...): its routes over the same keys,
 * ledger, limits, moderation and queue as the rest (docs/a1111.md). */
#ifndef IMGAPI_SERVER_A1111_H
#define IMGAPI_SERVER_A1111_H
#include "server/internal.h"

typedef struct a1111 a1111_t;

/* The routes' state: each key's chosen model (POST /sdapi/v1/options) and its running jobs
 * (progress, interrupt). */
int a1111_create(a1111_t **out);
void a1111_free(a1111_t *a);

enum MHD_Result h_a1111_txt2img(req_t *r);
enum MHD_Result h_a1111_img2img(req_t *r);
enum MHD_Result h_a1111_sd_models(req_t *r);
enum MHD_Result h_a1111_options_get(req_t *r);
enum MHD_Result h_a1111_options_post(req_t *r);
enum MHD_Result h_a1111_samplers(req_t *r);
enum MHD_Result h_a1111_schedulers(req_t *r);
enum MHD_Result h_a1111_loras(req_t *r);
enum MHD_Result h_a1111_progress(req_t *r);
enum MHD_Result h_a1111_interrupt(req_t *r);
enum MHD_Result h_a1111_skip(req_t *r);

#endif
