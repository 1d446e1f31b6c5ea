/* loras.h - the adapters a request names: its "loras" field ([{"name", "scale"}]) and the
 * AUTOMATIC1111 prompt syntax <lora:NAME> / <lora:NAME:SCALE> (also <lyco:...>), which is taken
 * out of the prompt. Names are plain file names without ".safetensors" (letters, digits, space
 * and _ - . + ( ) [ ], not starting with '.' or a space); they resolve in the configured folder,
 * never as a path. Pure: no I/O. */
#ifndef IMGAPI_API_LORAS_H
#define IMGAPI_API_LORAS_H
#include "api/error.h"
#include <jansson.h>
#include <stddef.h>

#define API_MAX_LORAS 8
#define API_LORA_NAME_MAX 64
#define API_LORA_SCALE_MAX 8.0

typedef struct {
    char name[API_LORA_NAME_MAX + 1];
    float scale; /* strength, -8..8 (1 when not given) */
} api_lora_t;

/* 1 when name is an acceptable adapter name (see above). */
int api_lora_name_ok(const char *name, size_t len);
/* Appends the entries of the JSON array v to loras (n in/out). 0, or -1 with a 400 in err. */
int api_loras_from_json(const json_t *v, api_lora_t *loras, int *n, api_error_t *err);
/* Takes the <lora:...> tags out of prompt (in place; the text around them joined by one space)
 * and appends them to loras. 0, or -1 with a 400 in err (param "prompt"). */
int api_loras_from_prompt(char *prompt, api_lora_t *loras, int *n, api_error_t *err);

#endif
