/* edit_input.h - an edit's inputs (SPEC §11), from a multipart form (/v1/images/edits) or a
 * JSON body (/v1/{model}, /v2/{model}): the model's capabilities checked, the images decoded
 * under the pixel limit, the mask converted once to the engine's convention, size auto resolved
 * and the input images priced, all before anything is reserved. Shared by the synchronous and
 * asynchronous routes and by the restart of queued asynchronous requests. */
#ifndef IMGAPI_SERVER_EDIT_INPUT_H
#define IMGAPI_SERVER_EDIT_INPUT_H
#include "api/request.h"
#include "server/admit.h"

typedef struct {
    /* the inputs as they came (borrowed: form parts or the parsed request's buffers) */
    int nimages; /* may exceed API_MAX_INPUT_IMAGES by one, to say so */
    const uint8_t *data[API_MAX_INPUT_IMAGES + 1];
    size_t len[API_MAX_INPUT_IMAGES + 1];
    const uint8_t *mask_data; /* NULL: no mask */
    size_t mask_len;
    /* what they become (owned: edit_free) */
    img_t image;      /* the first image, decoded */
    img_t more[API_MAX_INPUT_IMAGES - 1]; /* the others (nimages - 1 of them), decoded */
    uint8_t *mask_px; /* 1 = repaint, the image's size; NULL without a mask */
} edit_t;

/* Borrows a JSON edit's inputs from q (which must outlive ed). */
void edit_from_request(edit_t *ed, const api_request_t *q);
/* The checks of SPEC §11 for model m (count, capabilities, decoding, mask); on failure fills *e
 * (400, or 500 when out of memory) and returns -1. */
int edit_decode(edit_t *ed, const model_profile_t *m, api_error_t *e);
/* edit_decode for an admitted request, then size auto from the first image and the price of the
 * output plus the input images into g->size and g->cost. */
int edit_prepare(admit_t *g, edit_t *ed, api_error_t *e);
/* The edit's part of a job: input image, mask, strength (SPEC §11 defaults) and image tokens. */
void edit_job_spec(const edit_t *ed, const api_request_t *q, job_spec_t *spec);
void edit_free(edit_t *ed);

#endif
