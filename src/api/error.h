/* error.h - an API error (status, machine code, parameter, message) and its two JSON shapes. */
#ifndef IMGAPI_API_ERROR_H
#define IMGAPI_API_ERROR_H
#include <stdarg.h>

typedef enum { STYLE_SEED = 0, STYLE_OPENAI } api_style_t;

typedef struct {
    int status;        /* HTTP status from SPEC section 5 */
    char code[48];     /* machine code, e.g. "invalid_value" */
    char param[64];    /* offending field, "" when none */
    char message[512]; /* human message, never internals */
} api_error_t;

void api_error_set(api_error_t *e, int status, const char *code, const char *param, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
/* Renders the error body in the route's style; returns a malloc'd string the caller frees. */
char *api_error_json(const api_error_t *e, api_style_t style);
/* OpenAI error "type" for a status. */
const char *api_error_type(int status);

#endif
