/* loras.c - a request's adapters, from its "loras" field and its prompt's <lora:...> tags. */
#include "api/loras.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int api_lora_name_ok(const char *name, size_t len) {
    if (len == 0 || len > API_LORA_NAME_MAX || name[0] == '.' || name[0] == ' ') return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c && strchr(" _-.+()[]", c));
        if (!ok) return 0;
    }
    return 1;
}

static int add(api_lora_t *loras, int *n, const char *name, size_t len, double scale,
               const char *param, api_error_t *err) {
    if (!api_lora_name_ok(name, len)) {
        api_error_set(err, 400, "invalid_value", param,
                      "Invalid LoRA name in '%s': a name is 1 to %d letters, digits, spaces or _ - "
                      ". + ( ) [ ] "
                      "(a file name in the server's LoRA folder, without .safetensors).",
                      param, API_LORA_NAME_MAX);
        return -1;
    }
    if (!isfinite(scale) || fabs(scale) > API_LORA_SCALE_MAX) {
        api_error_set(err, 400, "invalid_value", param,
                      "Invalid LoRA scale for '%.*s' in '%s': expected a number from -%g to %g.",
                      (int)len, name, param, API_LORA_SCALE_MAX, API_LORA_SCALE_MAX);
        return -1;
    }
    if (*n == API_MAX_LORAS) {
        api_error_set(err, 400, "invalid_value", param,
                      "Too many LoRAs ('%s'): at most %d can be applied to one request.", param,
                      API_MAX_LORAS);
        return -1;
    }
    memcpy(loras[*n].name, name, len);
    loras[*n].name[len] = 0;
    loras[(*n)++].scale = (float)scale;
    return 0;
}

int api_loras_from_json(const json_t *v, api_lora_t *loras, int *n, api_error_t *err) {
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        const char *key;
        json_t *f;
        if (!json_is_object(e)) {
            api_error_set(err, 400, "invalid_type", "loras",
                          "Invalid type for 'loras[%zu]': expected an object {\"name\": ..., "
                          "\"scale\": ...}.",
                          i);
            return -1;
        }
        json_object_foreach(e, key, f) {
            if (strcmp(key, "name") && strcmp(key, "scale")) {
                api_error_set(
                    err, 400, "unknown_parameter", "loras",
                    "Unknown parameter in 'loras[%zu]': '%.64s' (expected name and scale).", i,
                    key);
                return -1;
            }
        }
        json_t *name = json_object_get(e, "name"), *scale = json_object_get(e, "scale");
        if (!json_is_string(name)) {
            api_error_set(err, 400, name ? "invalid_type" : "missing_required_parameter", "loras",
                          "'loras[%zu].name' must be a string.", i);
            return -1;
        }
        if (scale && !json_is_number(scale)) {
            api_error_set(err, 400, "invalid_type", "loras", "'loras[%zu].scale' must be a number.",
                          i);
            return -1;
        }
        if (add(loras, n, json_string_value(name), json_string_length(name),
                scale ? json_number_value(scale) : 1.0, "loras", err))
            return -1;
    }
    return 0;
}

/* The tag at p ("<lora:" or "<lyco:"), if any: its length up to '>' inclusive, else 0. */
static size_t tag_at(const char *p) {
    if (strncasecmp(p, "<lora:", 6) && strncasecmp(p, "<lyco:", 6)) return 0;
    const char *end = strchr(p + 6, '>'), *lt = strchr(p + 6, '<');
    return end && (!lt || lt > end) ? (size_t)(end - p + 1) : 0;
}

int api_loras_from_prompt(char *prompt, api_lora_t *loras, int *n, api_error_t *err) {
    char *w = prompt;
    for (const char *r = prompt; *r;) {
        size_t len = tag_at(r);
        if (!len) {
            if (!strncasecmp(r, "<lora:", 6) || !strncasecmp(r, "<lyco:", 6)) {
                api_error_set(err, 400, "invalid_value", "prompt",
                              "A <lora:...> tag in 'prompt' is not closed: write <lora:NAME> or "
                              "<lora:NAME:SCALE>.");
                return -1;
            }
            *w++ = *r++;
            continue;
        }
        const char *body = r + 6, *close = r + len - 1,
                   *colon = memchr(body, ':', (size_t)(close - body));
        double scale = 1.0;
        if (colon) {
            char num[32];
            size_t nl = (size_t)(close - colon - 1);
            char *end = NULL;
            if (nl && nl < sizeof num) {
                memcpy(num, colon + 1, nl);
                num[nl] = 0;
                scale = strtod(num, &end);
            }
            if (!end || *end || memchr(colon + 1, ':', nl)) {
                api_error_set(err, 400, "invalid_value", "prompt",
                              "A <lora:...> tag in 'prompt' must read <lora:NAME> or "
                              "<lora:NAME:SCALE> with SCALE a number.");
                return -1;
            }
        }
        if (add(loras, n, body, (size_t)((colon ? colon : close) - body), scale, "prompt", err))
            return -1;
        /* the text on both sides joined by one space */
        if (w > prompt && w[-1] != ' ' && r[len] && r[len] != ' ' && r[len] != ',') *w++ = ' ';
        r += len;
        if (w == prompt || w[-1] == ' ')
            while (*r == ' ')
                r++;
    }
    *w = 0;
    while (w > prompt && w[-1] == ' ')
        *--w = 0; /* no space left where a last tag was */
    return 0;
}
