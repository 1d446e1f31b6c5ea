/* request.c - JSON body -> api_request_t with the validation rules of SPEC section 3. */
#include "api/request.h"
#include "api/json_body.h"
#include "common/base64.h"
#include "common/text.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef enum { F_STRING, F_INT, F_BOOL, F_NUMBER, F_ARRAY } field_type_t;

typedef struct {
    const char *name;
    field_type_t type;
    unsigned routes; /* the route kinds (R_*) that accept it */
} field_t;

#define R_SEED 1u
#define R_OAI 2u
#define R_EDIT 4u
#define R_SEED_EDIT 8u /* a seed route's body with "image" or "images" */
#define R_VAR 16u      /* the text fields of /v1/images/variations */
#define R_ALL (R_SEED | R_OAI | R_EDIT | R_SEED_EDIT)

static const field_t FIELDS[] = {
    {"prompt", F_STRING, R_ALL},
    {"size", F_STRING, R_ALL | R_VAR},
    {"quality", F_STRING, R_ALL},
    {"moderation", F_STRING, R_ALL},
    {"background", F_STRING, R_ALL},
    {"output_compression", F_INT, R_ALL},
    {"output_format", F_STRING, R_ALL},
    {"n", F_INT, R_ALL | R_VAR},
    {"seed", F_INT, R_ALL | R_VAR},
    {"negative_prompt", F_STRING, R_ALL},
    {"model", F_STRING, R_OAI | R_EDIT | R_VAR},
    {"user", F_STRING, R_OAI | R_EDIT | R_VAR},
    {"stream", F_BOOL, R_OAI | R_EDIT},
    {"partial_images", F_INT, R_OAI | R_EDIT},
    {"input_fidelity", F_STRING, R_EDIT | R_SEED_EDIT},
    {"strength", F_NUMBER, R_EDIT | R_SEED_EDIT},
    {"image", F_STRING, R_SEED_EDIT},
    {"images", F_ARRAY, R_SEED_EDIT},
    {"mask", F_STRING, R_SEED_EDIT},
    {"loras", F_ARRAY, R_ALL},
};

size_t api_utf8_chars(const char *s, size_t len) {
    return text_utf8_chars(s, len);
}

static const char *type_name(field_type_t t) {
    return t == F_STRING   ? "a string"
           : t == F_INT    ? "an integer"
           : t == F_NUMBER ? "a number"
           : t == F_ARRAY  ? "an array"
                           : "a boolean";
}

/* An image given in JSON: base64, or a data: URL of base64 (SPEC §11). Remote URLs are refused:
 * the server never fetches. On success *out (owned by the caller) holds the bytes. */
int api_image_bytes(const char *field, const json_t *v, uint8_t **out, size_t *len, api_error_t *err) {
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8)) {
        api_error_set(err, 400, "invalid_value", field,
                      "'%s' is a URL; this server does not fetch images: send the image as base64 "
                      "or a data: URL.",
                      field);
        return -1;
    }
    if (!strncmp(s, "data:", 5)) {
        const char *comma = memchr(s, ',', n);
        if (!comma || comma - s < 12 || memcmp(comma - 7, ";base64", 7)) {
            api_error_set(err, 400, "invalid_value", field,
                          "'%s' must be a data: URL of base64 (data:image/png;base64,...).", field);
            return -1;
        }
        n -= (size_t)(comma + 1 - s);
        s = comma + 1;
    }
    *out = malloc(n / 4 * 3 + 3);
    if (!*out) {
        api_error_set(err, 500, "internal_error", NULL, "Out of memory.");
        return -1;
    }
    long got = n ? b64_decode(s, n, *out) : -1;
    if (got <= 0) {
        free(*out);
        *out = NULL;
        api_error_set(err, 400, "invalid_value", field,
                      "'%s' must be a base64-encoded PNG, JPEG or WebP image.", field);
        return -1;
    }
    *len = (size_t)got;
    return 0;
}

/* "image" / "images" / "mask" of a JSON edit into r (owned there). */
static int edit_inputs(json_t *root, api_request_t *r, api_error_t *err) {
    json_t *one = json_object_get(root, "image"), *many = json_object_get(root, "images"), *v;
    if (one && many) {
        api_error_set(err, 400, "invalid_value", "images",
                      "Give either 'image' or 'images', not both.");
        return -1;
    }
    if (one) {
        if (api_image_bytes("image", one, &r->image[0], &r->image_len[0], err)) return -1;
        r->nimages = 1;
        return 0;
    }
    size_t n = json_array_size(many);
    if (n == 0) {
        api_error_set(err, 400, "invalid_value", "images", "'images' must hold 1 to %d images.",
                      API_MAX_INPUT_IMAGES);
        return -1;
    }
    if (n > API_MAX_INPUT_IMAGES) {
        api_error_set(err, 400, "invalid_value", "images",
                      "At most %d images can be edited together; got %zu.", API_MAX_INPUT_IMAGES, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        v = json_array_get(many, i);
        if (!json_is_string(v)) {
            api_error_set(err, 400, "invalid_type", "images",
                          "Invalid type for 'images[%zu]': expected a string, got %s.", i,
                          api_json_kind(v));
            return -1;
        }
        if (api_image_bytes("images", v, &r->image[i], &r->image_len[i], err)) return -1;
        r->nimages = (int)i + 1;
    }
    return 0;
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

int api_check_text(const char *field, const json_t *v, int required_nonempty, api_error_t *err) {
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
    for (int i = 0; i < r->nimages; i++) free(r->image[i]);
    free(r->mask);
    memset(r, 0, sizeof *r);
}

static int parse_fields(api_route_kind_t kind, json_t *root, api_request_t *r, api_error_t *err) {
    /* the seed's route has no background "auto": its table without that name */
    const char *const BG_SEED[BACKGROUND_COUNT] = {NULL, API_BACKGROUND_NAMES[BACKGROUND_OPAQUE],
                                                   API_BACKGROUND_NAMES[BACKGROUND_TRANSPARENT]};
    unsigned route_bit = kind == ROUTE_KIND_SEED        ? R_SEED
                         : kind == ROUTE_KIND_EDIT      ? R_EDIT
                         : kind == ROUTE_KIND_VARIATION ? R_VAR
                                                        : R_OAI;
    const char *key;
    json_t *v;
    if (kind == ROUTE_KIND_SEED && (json_object_get(root, "image") || json_object_get(root, "images")))
        route_bit = R_SEED_EDIT;
    if (kind == ROUTE_KIND_SEED && route_bit == R_SEED && json_object_get(root, "mask")) {
        api_error_set(err, 400, "missing_required_parameter", "image",
                      "Missing required parameter: 'image' (a mask edits an image).");
        return -1;
    }

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
                 (f->type == F_ARRAY && json_is_array(v)) ||
                 (f->type == F_BOOL && json_is_boolean(v));
        if (!ok) {
            api_error_set(err, 400, "invalid_type", key, "Invalid type for '%s': expected %s, got %s.",
                          key, type_name(f->type), api_json_kind(v));
            return -1;
        }
    }

    json_t *p = json_object_get(root, "prompt");
    if (kind == ROUTE_KIND_VARIATION) { /* an image to image without a prompt */
        r->prompt = strdup("");
        r->has_strength = true;
        r->strength = 0.6;
    } else if (!p) {
        api_error_set(err, 400, "missing_required_parameter", "prompt",
                      "Missing required parameter: 'prompt'.");
        return -1;
    }
    if (p && api_check_text("prompt", p, 1, err)) return -1;
    if (p) r->prompt = dup_str(p);
    if ((v = json_object_get(root, "loras")) && api_loras_from_json(v, r->loras, &r->nloras, err)) return -1;
    if (r->prompt && api_loras_from_prompt(r->prompt, r->loras, &r->nloras, err)) return -1;
    if (p && r->prompt && r->prompt[strspn(r->prompt, " \t\r\n\f\v")] == 0) {
        api_error_set(err, 400, "empty_prompt", "prompt", "'prompt' must not be empty (besides its <lora:...> tags).");
        return -1;
    }
    if (route_bit == R_SEED_EDIT && !json_object_get(root, "size"))
        r->size = SIZE_AUTO; /* an edit follows its image's aspect unless told */

    if ((v = json_object_get(root, "negative_prompt"))) {
        if (api_check_text("negative_prompt", v, 0, err)) return -1;
        r->negative_prompt = dup_str(v);
    } else {
        r->negative_prompt = strdup("");
    }
    if ((v = json_object_get(root, "size"))) {
        int i = enum_value("size", v, API_SIZE_NAMES, SIZE_COUNT, err);
        if (i < 0) return -1;
        r->size = (api_size_t)i;
    }
    if ((v = json_object_get(root, "quality"))) {
        int i = enum_value("quality", v, API_QUALITY_NAMES, QUALITY_COUNT, err);
        if (i < 0) return -1;
        r->quality = (api_quality_t)i;
    }
    if ((v = json_object_get(root, "moderation"))) {
        int i = enum_value("moderation", v, API_MODERATION_NAMES, MODERATION_COUNT, err);
        if (i < 0) return -1;
        r->moderation = (api_moderation_t)i;
    }
    if ((v = json_object_get(root, "background"))) {
        int i = enum_value("background", v, kind == ROUTE_KIND_SEED ? BG_SEED : API_BACKGROUND_NAMES,
                           BACKGROUND_COUNT, err);
        if (i < 0) return -1;
        r->background = (api_background_t)i;
    }
    if ((v = json_object_get(root, "output_format"))) {
        int i = enum_value("output_format", v, API_FORMAT_NAMES, FORMAT_COUNT, err);
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
    if (route_bit == R_SEED_EDIT) {
        if (edit_inputs(root, r, err)) return -1;
        if ((v = json_object_get(root, "mask")) &&
            api_image_bytes("mask", v, &r->mask, &r->mask_len, err))
            return -1;
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
