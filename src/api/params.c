/* params.c - names of the enumerated parameters. */
#include "api/params.h"
#include <string.h>

static const char *SIZE_NAMES[] = {"auto", "1024x1024", "1536x1024", "1024x1536"};
static const char *QUALITY_NAMES[] = {"auto", "low", "medium", "high"};
static const char *MODERATION_NAMES[] = {"auto", "low"};
static const char *BACKGROUND_NAMES[] = {"auto", "opaque", "transparent"};
static const char *FORMAT_NAMES[] = {"png", "jpeg", "webp"};
static const char *FORMAT_MIMES[] = {"image/png", "image/jpeg", "image/webp"};

const char *api_size_name(api_size_t s) { return SIZE_NAMES[s]; }
const char *api_quality_name(api_quality_t q) { return QUALITY_NAMES[q]; }
const char *api_moderation_name(api_moderation_t m) { return MODERATION_NAMES[m]; }
const char *api_background_name(api_background_t b) { return BACKGROUND_NAMES[b]; }
const char *api_format_name(api_format_t f) { return FORMAT_NAMES[f]; }
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

static int parse_in(const char *s, const char **names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

int api_size_parse(const char *s) { return parse_in(s, SIZE_NAMES, SIZE_COUNT); }
int api_quality_parse(const char *s) { return parse_in(s, QUALITY_NAMES, QUALITY_COUNT); }
