/* stream.h - OpenAI's streaming image generation (`stream: true`): server-sent events on a
 * chunked 200 answer, `image_generation.partial_image` events from the engine's step previews
 * (partial_images of them per image, spread over the sampling steps), then one
 * `image_generation.completed` event per image with its usage, or one `error` event. */
#ifndef IMGAPI_SERVER_STREAM_H
#define IMGAPI_SERVER_STREAM_H
#include "server/admit.h"

/* Answers an admitted request whose job is queued (spec.previews set when partial images are
 * wanted). Takes over *a (its reservation, rate-limit slot and parsed request) and the job
 * reference: the stream settles the ledger exactly once, when the job ends or the client goes. */
enum MHD_Result stream_start(admit_t *a, job_t *job, const job_spec_t *spec);

#endif
