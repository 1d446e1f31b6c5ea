/* generate.h - the synchronous generation path after admission (generate.c), for routes that
 * parse their own request shapes (the A1111 routes). */
#ifndef IMGAPI_SERVER_GENERATE_H
#define IMGAPI_SERVER_GENERATE_H
#include "server/admit.h"
#include "server/edit_input.h"

/* Runs an admitted request (edit inputs prepared, or ed NULL) to its answer: idempotency, rate
 * limit, reservation, queue, wait, charge; the answer's body is a->answer's when set, else the
 * route's JSON. Frees a->q. */
enum MHD_Result generate_admitted(admit_t *a, req_t *r, edit_t *ed);

#endif
