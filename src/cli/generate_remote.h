/* generate_remote.h - `imgapi generate --server URL [--async]` (generate_remote.c). */
#ifndef IMGAPI_CLI_GENERATE_REMOTE_H
#define IMGAPI_CLI_GENERATE_REMOTE_H
#include <jansson.h>

typedef struct {
    const char *server; /* base URL, e.g. http://127.0.0.1:8080 */
    const char *key;    /* API key */
    const char *model;  /* route model, gpt-image-1-mini by default */
    int async;          /* 1: POST /v2/{model} and poll; 0: POST /v1/{model} */
    double poll_seconds;
    json_t *body;    /* the request parameters (borrowed) */
    const char *out; /* file to write */
} remote_opts_t;

/* Runs the request and writes the image; returns the exit status (0, or 1 with a reason on
 * standard error). */
int generate_remote(const remote_opts_t *o);

#endif
