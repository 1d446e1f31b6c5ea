/* request.c - JSON body -> api_request_t with the validation rules of SPEC section 3. */
#include "api/request.h"
#include "api/json_body.h"
#include "common/text.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef enum { F_STRING, F_INT, F_BOOL, F_NUMBER } field_type_t;

typedef struct {
    const char *name;
    field_type_t type;
    unsigned routes; /* bit 0: seed route, bit 1: OpenAI route */
} field_t;

#define R_SEED 1u
#define R_OAI 2u
#define R_EDIT 4u
#define R_ALL (R_SEED | R_OAI | R_EDIT)

static const field_t FIELDS[] = {
    {"prompt", F_STRING, R_ALL},
    {"size", F_STRING, R_ALL},
    {"quality", F_STRING, R_ALL},
    {"moderation", F_STRING, R_ALL},
    {"background", F_STRING, R_ALL},
    {"output_compression", F_INT, R_ALL},
    {"output_format", F_STRING, R_ALL},
    {"n", F_INT, R_ALL},
    {"seed", F_INT, R_ALL},
    {"negative_prompt", F_STRING, R_ALL},
    {"model", F_STRING, R_OAI | R_EDIT},
    {"user", F_STRING, R_OAI | R_EDIT},
    {"stream", F_BOOL, R_OAI | R_EDIT},
    {"partial_images", F_INT, R_OAI | R_EDIT},
    {"input_fidelity", F_STRING, R_EDIT},
    {"strength", F_NUMBER, R_EDIT},
};

size_t api_utf8_chars(const char *s, size_t len) {
    return text_utf8_chars(s, len);
}

static const char *type_name(field_type_t t) {
    return t == F_STRING ? "a string" : t == F_INT ? "an integer" : t == F_NUMBER ? "a number" : "a boolean";
}

static int enum_value(const char *field, const json_t *v, const char *const *names, int count,
                      api_error_t *err) {
    for (int i = 0; i < count; i++)
        if (names[i] && api_json_str_eq(v, names[i])) return i;
    char allowed[256] = "";
    for (int i = 0; i < count; i++) {
        if (!names[i]) continue;
        if (allowed[0]) strncat(allowed, ", ", sizeof allowed - strlen(allowed) - 1);
        strncat(allowed, "'", sizeof allowed - strlen(allowed) - 1);
        strncat(allowed, names[i], sizeof allowed - strlen(allowed) - 1);
        strncat(allowed, "'", sizeof allowed - strlen(allowed) - 1);
    }
    api_error_set(err, 400, "invalid_value", field, "Invalid value for '%s': expected one of %s.",
                  field, allowed);
    return -1;
}

static int int_range(const char *field, json_int_t v, json_int_t lo, json_int_t hi,
                     api_error_t *err) {
    if (v < lo || v > hi) {
        api_error_set(err, 400, "invalid_value", field,
                      "Invalid value for '%s': expected an integer from %lld to %lld.", field,
                      (long long)lo, (long long)hi);
        return -1;
    }
    return 0;
}

static char *dup_str(const json_t *v) {
    size_t n = json_string_length(v);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, json_string_value(v), n);
        s[n] = 0;
    }
    return s;
}

static int check_text(const char *field, const json_t *v, int required_nonempty, api_error_t *err) {
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (memchr(s, 0, n)) {
        api_error_set(err, 400, "invalid_value", field, "'%s' must not contain NUL characters.",
                      field);
        return -1;
    }
    if (api_utf8_chars(s, n) > API_MAX_PROMPT_CHARS) {
        api_error_set(err, 400, "string_above_max_length", field,
                      "'%s' is too long: at most %d characters are allowed.", field,
                      API_MAX_PROMPT_CHARS);
        return -1;
    }
    if (required_nonempty) {
        size_t i = 0;
        while (i < n && strchr(" \t\r\n\f\v", s[i])) i++;
        if (i == n) {
            api_error_set(err, 400, "empty_prompt", field, "'%s' must not be empty.", field);
            return -1;
        }
    }
    return 0;
}

void api_request_free(api_request_t *r) {
    free(r->prompt);
    free(r->negative_prompt);
    free(r->model);
    free(r->user);
    free(r->webhook_url);
    memset(r, 0, sizeof *r);
}

static int parse_fields(api_route_kind_t kind, json_t *root, api_request_t *r, api_error_t *err) {
    static const char *const SIZES[] = {"auto", "1024x1024", "1536x1024", "1024x1536"};
    static const char *const QUALITIES[] = {"auto", "low", "medium", "high"};
    static const char *const MODERATIONS[] = {"auto", "low"};
    static const char *const BG_OAI[] = {"auto", "opaque", "transparent"};
    static const char *const BG_SEED[] = {NULL, "opaque", "transparent"};
    static const char *const FORMATS[] = {"png", "jpeg", "webp"};
    unsigned route_bit = kind == ROUTE_KIND_SEED ? R_SEED : kind == ROUTE_KIND_EDIT ? R_EDIT : R_OAI;
    const char *key;
    json_t *v;

    /* Unknown fields and wrong types first, in document order, so the message names the first. */
    json_object_foreach(root, key, v) {
        const field_t *f = NULL;
        for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
            if (strcmp(FIELDS[i].name, key) == 0 && (FIELDS[i].routes & route_bit)) f = &FIELDS[i];
        if (!f) {
            api_error_set(err, 400, "unknown_parameter", key, "Unknown parameter: '%.200s'.", key);
            return -1;
        }
        int ok = (f->type == F_STRING && json_is_string(v)) ||
                 (f->type == F_INT && json_is_integer(v)) ||
                 (f->type == F_NUMBER && json_is_number(v)) ||
                 (f->type == F_BOOL && json_is_boolean(v));
        if (!ok) {
            api_error_set(err, 400, "invalid_type", key, "Invalid type for '%s': expected %s, got %s.",
                          key, type_name(f->type), api_json_kind(v));
            return -1;
        }
    }

    json_t *p = json_object_get(root, "prompt");
    if (!p) {
        api_error_set(err, 400, "missing_required_parameter", "prompt",
                      "Missing required parameter: 'prompt'.");
        return -1;
    }
    if (check_text("prompt", p, 1, err)) return -1;
    r->prompt = dup_str(p);

    if ((v = json_object_get(root, "negative_prompt"))) {
        if (check_text("negative_prompt", v, 0, err)) return -1;
        r->negative_prompt = dup_str(v);
    } else {
        r->negative_prompt = strdup("");
    }
    if ((v = json_object_get(root, "size"))) {
        int i = enum_value("size", v, SIZES, 4, err);
        if (i < 0) return -1;
        r->size = (api_size_t)i;
    }
    if ((v = json_object_get(root, "quality"))) {
        int i = enum_value("quality", v, QUALITIES, 4, err);
        if (i < 0) return -1;
        r->quality = (api_quality_t)i;
    }
    if ((v = json_object_get(root, "moderation"))) {
        int i = enum_value("moderation", v, MODERATIONS, 2, err);
        if (i < 0) return -1;
        r->moderation = (api_moderation_t)i;
    }
    if ((v = json_object_get(root, "background"))) {
        int i = enum_value("background", v,
                           kind == ROUTE_KIND_SEED ? BG_SEED : BG_OAI, 3, err);
        if (i < 0) return -1;
        r->background = (api_background_t)i;
    }
    if ((v = json_object_get(root, "output_format"))) {
        int i = enum_value("output_format", v, FORMATS, 3, err);
        if (i < 0) return -1;
        r->output_format = (api_format_t)i;
    }
    if ((v = json_object_get(root, "output_compression"))) {
        if (int_range("output_compression", json_integer_value(v), 0, 100, err)) return -1;
        r->output_compression = (int)json_integer_value(v);
    }
    if ((v = json_object_get(root, "n"))) {
        if (int_range("n", json_integer_value(v), 1, API_MAX_N, err)) return -1;
        r->n = (int)json_integer_value(v);
    }
    if ((v = json_object_get(root, "seed"))) {
        if (int_range("seed", json_integer_value(v), 0, 4294967295LL, err)) return -1;
        r->has_seed = true;
        r->seed = (uint32_t)json_integer_value(v);
    }
    if ((v = json_object_get(root, "partial_images"))) {
        if (int_range("partial_images", json_integer_value(v), 0, 3, err)) return -1;
        r->partial_images = (int)json_integer_value(v);
    }
    if ((v = json_object_get(root, "stream"))) r->stream = json_is_true(v);
    if ((v = json_object_get(root, "input_fidelity"))) {
        static const char *const FIDELITY[] = {"low", "high"};
        int i = enum_value("input_fidelity", v, FIDELITY, 2, err);
        if (i < 0) return -1;
        r->input_fidelity_high = i == 1;
    }
    if ((v = json_object_get(root, "strength"))) {
        double x = json_number_value(v);
        if (!(x > 0 && x <= 1)) {
            api_error_set(err, 400, "invalid_value", "strength",
                          "Invalid value for 'strength': expected a number above 0 and at most 1.");
            return -1;
        }
        r->has_strength = true;
        r->strength = x;
    }
    if ((v = json_object_get(root, "model"))) {
        if (json_string_length(v) == 0 || json_string_length(v) > 128) {
            api_error_set(err, 400, "invalid_value", "model",
                          "Invalid value for 'model': expected an installed model id.");
            return -1;
        }
        r->model = dup_str(v);
    }
    if ((v = json_object_get(root, "user"))) {
        if (text_utf8_chars(json_string_value(v), json_string_length(v)) > 256) {
            api_error_set(err, 400, "string_above_max_length", "user",
                          "'user' is too long: at most 256 characters are allowed.");
            return -1;
        }
        r->user = dup_str(v);
    }
    if (r->background == BACKGROUND_TRANSPARENT && r->output_format == FORMAT_JPEG) {
        api_error_set(err, 400, "invalid_value", "background",
                      "'background': 'transparent' needs output_format 'png' or 'webp'; JPEG has "
                      "no alpha channel.");
        return -1;
    }
    if (!r->prompt || !r->negative_prompt) {
        api_error_set(err, 500, "internal_error", NULL, "Out of memory.");
        return -1;
    }
    return 0;
}

int api_request_parse(api_route_kind_t kind, const char *body, size_t len, api_request_t *out,
                      api_error_t *err) {
    memset(out, 0, sizeof *out);
    out->size = kind == ROUTE_KIND_SEED ? SIZE_1024x1024 : SIZE_AUTO;
    out->quality = kind == ROUTE_KIND_SEED ? QUALITY_HIGH : QUALITY_AUTO;
    out->moderation = MODERATION_AUTO;
    out->background = kind == ROUTE_KIND_SEED ? BACKGROUND_OPAQUE : BACKGROUND_AUTO;
    out->output_compression = 100;
    out->output_format = FORMAT_PNG;
    out->n = 1;

    json_t *root;
    if (api_json_body(body, len, 0, &root, err)) return -1;
    int rc = parse_fields(kind, root, out, err);
    json_decref(root);
    if (rc) api_request_free(out);
    return rc;
}
