/* request.h - a parsed, validated generation request (SPEC section 3). Pure: no I/O. */
#ifndef IMGAPI_API_REQUEST_H
#define IMGAPI_API_REQUEST_H
#include "api/error.h"
#include "api/loras.h"
#include "api/params.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_MAX_PROMPT_CHARS 32000
#define API_MAX_N 10
#define API_MAX_INPUT_IMAGES 16

/* SEED: /v1/{model} and /v2/{model} (an edit when the body has "image" or "images": then
 * "mask", input_fidelity and strength are accepted too, SPEC §11); OPENAI:
 * /v1/images/generations; EDIT: the text fields of /v1/images/edits (OpenAI's defaults, plus
 * input_fidelity and strength). */
typedef enum {
    ROUTE_KIND_SEED = 0,
    ROUTE_KIND_OPENAI,
    ROUTE_KIND_EDIT,
    ROUTE_KIND_VARIATION /* /v1/images/variations: no prompt (""), strength 0.6 (SPEC §11) */
} api_route_kind_t;

typedef struct {
    char *prompt;          /* owned; UTF-8 */
    char *negative_prompt; /* owned; "" when absent */
    char *model;           /* owned; NULL when absent (OpenAI route only) */
    char *user;            /* owned; NULL when absent */
    char *webhook_url;     /* owned; NULL when absent */
    api_size_t size;
    api_quality_t quality;
    api_moderation_t moderation;
    api_background_t background;
    api_format_t output_format;
    int output_compression; /* 0..100 */
    int n;                  /* 1..10 */
    bool stream;
    int partial_images; /* 0..3 */
    bool has_seed;
    uint32_t seed;
    bool input_fidelity_high; /* edits: input_fidelity "high" (default "low") */
    bool has_strength;        /* edits: strength given (0 < strength <= 1) */
    double strength;
    /* JSON edits (seed routes): the decoded bytes of "image"/"images" (owned, nimages of them;
     * one more than allowed is kept to say so) and of "mask" (owned, or NULL) */
    int nimages;
    uint8_t *image[API_MAX_INPUT_IMAGES + 1];
    size_t image_len[API_MAX_INPUT_IMAGES + 1];
    uint8_t *mask;
    size_t mask_len;
    /* set by the A1111 routes only: the exact output size (0: from size) and settings */
    int width, height;
    api_settings_t settings;
    /* adapters: the "loras" field's, then the prompt's <lora:...> tags (taken out of prompt) */
    int nloras;
    api_lora_t loras[API_MAX_LORAS];
} api_request_t;

/* Parses and validates a JSON body for a route kind. On success fills *out (free with
 * api_request_free) and returns 0; on failure fills *err (a 400) and returns -1, leaving
 * nothing to free. */
int api_request_parse(api_route_kind_t kind, const char *body, size_t len, api_request_t *out,
                      api_error_t *err);
void api_request_free(api_request_t *r);
/* A JSON string holding an image (base64 or a data: URL of base64; never a URL to fetch) into
 * *out (malloc'd, the caller's) and *len; a 400 naming field otherwise. */
int api_image_bytes(const char *field, const json_t *v, uint8_t **out, size_t *len, api_error_t *err);
/* A text field's checks (no NUL, at most API_MAX_PROMPT_CHARS characters, and not blank when
 * required_nonempty); a 400 naming field otherwise. */
int api_check_text(const char *field, const json_t *v, int required_nonempty, api_error_t *err);

/* Number of Unicode code points in a valid UTF-8 string. */
size_t api_utf8_chars(const char *s, size_t len);

#endif
