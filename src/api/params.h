/* params.h - the enumerated parameter values of SPEC section 3 and their names. */
#ifndef IMGAPI_API_PARAMS_H
#define IMGAPI_API_PARAMS_H
#include <stddef.h>

typedef enum { SIZE_AUTO = 0, SIZE_1024x1024, SIZE_1536x1024, SIZE_1024x1536, SIZE_COUNT } api_size_t;
typedef enum { QUALITY_AUTO = 0, QUALITY_LOW, QUALITY_MEDIUM, QUALITY_HIGH, QUALITY_COUNT } api_quality_t;
typedef enum { MODERATION_AUTO = 0, MODERATION_LOW, MODERATION_COUNT } api_moderation_t;
typedef enum { BACKGROUND_AUTO = 0, BACKGROUND_OPAQUE, BACKGROUND_TRANSPARENT, BACKGROUND_COUNT } api_background_t;
typedef enum { FORMAT_PNG = 0, FORMAT_JPEG, FORMAT_WEBP, FORMAT_COUNT } api_format_t;

/* Generation settings a request may set beside its quality (the A1111 routes' steps, cfg_scale,
 * sampler_name and scheduler). Zero in each field: what the model's profile gives the quality. */
typedef enum { API_SAMPLER_DEFAULT = 0, API_SAMPLER_EULER, API_SAMPLER_EULER_A, API_SAMPLER_DPMPP_2M, API_SAMPLER_LCM } api_sampler_t;
typedef enum { API_SCHEDULE_DEFAULT = 0, API_SCHEDULE_UNIFORM, API_SCHEDULE_KARRAS, API_SCHEDULE_SGM_UNIFORM } api_schedule_t;
typedef struct {
    int steps;      /* 0: the profile's */
    float guidance; /* classifier-free guidance scale; 0: the profile's */
    api_sampler_t sampler;
    api_schedule_t schedule;
} api_settings_t;

/* The one table of each enumeration's names, in enum order (the API's parser, the command line
 * and the error messages all read these): count is the enum's *_COUNT. */
extern const char *const API_SIZE_NAMES[SIZE_COUNT];
extern const char *const API_QUALITY_NAMES[QUALITY_COUNT];
extern const char *const API_MODERATION_NAMES[MODERATION_COUNT];
extern const char *const API_BACKGROUND_NAMES[BACKGROUND_COUNT];
extern const char *const API_FORMAT_NAMES[FORMAT_COUNT];

const char *api_size_name(api_size_t s);
const char *api_quality_name(api_quality_t q);
const char *api_moderation_name(api_moderation_t m);
const char *api_background_name(api_background_t b);
const char *api_format_name(api_format_t f);
const char *api_format_mime(api_format_t f);
/* Pixel dimensions of a resolved size (not SIZE_AUTO). */
void api_size_dims(api_size_t s, int *w, int *h);
/* An edit's size auto: the allowed size nearest a w x h input's aspect ratio (SPEC §11). */
api_size_t api_size_for_aspect(int w, int h);
/* The most pixels an edit's input image may declare (SPEC §11: 64 megapixels). */
#define API_EDIT_MAX_PIXELS (64u * 1024u * 1024u)
/* Parses a name; returns the enum value or -1. */
int api_size_parse(const char *s);
int api_quality_parse(const char *s);
int api_moderation_parse(const char *s);
int api_background_parse(const char *s);
int api_format_parse(const char *s);
/* "a, b or c": the names of a table (first from `first`), for messages; returns out. */
char *api_names_list(const char *const *names, int first, int count, char *out, size_t len);

#endif
