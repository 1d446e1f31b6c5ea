/* json_body.c - the shared reader of clients' JSON bodies (see json_body.h). */
#include "api/json_body.h"
#include <string.h>

const char *api_json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

int api_json_str_eq(const json_t *v, const char *s) {
    size_t n = strlen(s);
    return json_is_string(v) && json_string_length(v) == n &&
           memcmp(json_string_value(v), s, n) == 0;
}

/* 1 when v, or anything inside it, is a key or string holding a NUL byte. */
static int has_nul(json_t *v, int depth) {
    if (depth > 64) return 0; /* jansson's own parser bounds nesting well below this */
    if (json_is_string(v)) return memchr(json_string_value(v), 0, json_string_length(v)) != NULL;
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (has_nul(x, depth + 1)) return 1;
        return 0;
    }
    if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            const char *k = json_object_iter_key(it);
            if (strlen(k) != json_object_iter_key_len(it)) return 1;
            if (has_nul(json_object_iter_value(it), depth + 1)) return 1;
        }
    }
    return 0;
}

int api_json_body(const char *body, size_t len, int empty_ok, json_t **out, api_error_t *err) {
    *out = NULL;
    if (len == 0 && empty_ok) {
        *out = json_object();
        if (!*out) api_error_set(err, 500, "internal_error", NULL, "Out of memory.");
        return *out ? 0 : -1;
    }
    json_error_t jerr;
    json_t *root =
        json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        api_error_set(err, 400, "invalid_json", NULL,
                      "The body is not valid JSON: %.200s (near byte offset %d).", jerr.text,
                      jerr.position);
        return -1;
    }
    if (!json_is_object(root)) {
        api_error_set(err, 400, "invalid_json", NULL,
                      "The body must be a JSON object, got %s (at byte offset 0).",
                      api_json_kind(root));
        json_decref(root);
        return -1;
    }
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        const char *k = json_object_iter_key(it);
        if (strlen(k) != json_object_iter_key_len(it)) {
            api_error_set(err, 400, "invalid_parameter", k,
                          "Parameter names must not contain NUL characters ('%.64s...').", k);
            json_decref(root);
            return -1;
        }
        if (has_nul(json_object_iter_value(it), 0)) {
            api_error_set(err, 400, "invalid_value", k, "'%.64s' must not contain NUL characters.",
                          k);
            json_decref(root);
            return -1;
        }
    }
    *out = root;
    return 0;
}
