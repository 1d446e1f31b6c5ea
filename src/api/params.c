/* params.c - names of the enumerated parameters. */
#include "api/params.h"
#include <string.h>

#include <stdio.h>

const char *const API_SIZE_NAMES[SIZE_COUNT] = {"auto", "1024x1024", "1536x1024", "1024x1536"};
const char *const API_QUALITY_NAMES[QUALITY_COUNT] = {"auto", "low", "medium", "high"};
const char *const API_MODERATION_NAMES[MODERATION_COUNT] = {"auto", "low"};
const char *const API_BACKGROUND_NAMES[BACKGROUND_COUNT] = {"auto", "opaque", "transparent"};
const char *const API_FORMAT_NAMES[FORMAT_COUNT] = {"png", "jpeg", "webp"};
static const char *const FORMAT_MIMES[FORMAT_COUNT] = {"image/png", "image/jpeg", "image/webp"};

const char *api_size_name(api_size_t s) { return API_SIZE_NAMES[s]; }
const char *api_quality_name(api_quality_t q) { return API_QUALITY_NAMES[q]; }
const char *api_moderation_name(api_moderation_t m) { return API_MODERATION_NAMES[m]; }
const char *api_background_name(api_background_t b) { return API_BACKGROUND_NAMES[b]; }
const char *api_format_name(api_format_t f) { return API_FORMAT_NAMES[f]; }
const char *api_format_mime(api_format_t f) { return FORMAT_MIMES[f]; }

void api_size_dims(api_size_t s, int *w, int *h) {
    switch (s) {
    case SIZE_1536x1024: *w = 1536; *h = 1024; break;
    case SIZE_1024x1536: *w = 1024; *h = 1536; break;
    default: *w = 1024; *h = 1024; break;
    }
}

api_size_t api_size_for_aspect(int w, int h) {
    double r = (double)w / h;
    return r > 1.25 ? SIZE_1536x1024 : r < 0.8 ? SIZE_1024x1536 : SIZE_1024x1024;
}

static int parse_in(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

int api_size_parse(const char *s) { return parse_in(s, API_SIZE_NAMES, SIZE_COUNT); }
int api_quality_parse(const char *s) { return parse_in(s, API_QUALITY_NAMES, QUALITY_COUNT); }
int api_moderation_parse(const char *s) {
    return parse_in(s, API_MODERATION_NAMES, MODERATION_COUNT);
}
int api_background_parse(const char *s) {
    return parse_in(s, API_BACKGROUND_NAMES, BACKGROUND_COUNT);
}
int api_format_parse(const char *s) { return parse_in(s, API_FORMAT_NAMES, FORMAT_COUNT); }

char *api_names_list(const char *const *names, int first, int count, char *out, size_t len) {
    size_t used = 0;
    if (len) out[0] = 0;
    for (int i = first; i < count && used < len; i++) {
        const char *sep = i == first ? "" : i + 1 == count ? " or " : ", ";
        int n = snprintf(out + used, len - used, "%s%s", sep, names[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    return out;
}
