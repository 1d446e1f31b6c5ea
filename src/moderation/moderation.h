/* moderation.h - prompt moderation (SPEC section 8): a normaliser that sees through case,
 * spacing, punctuation, leetspeak, zero-width characters and look-alike letters, and
 * categories of rules read from a data file (moderation/rules.txt, embedded at build time). */
#ifndef IMGAPI_MODERATION_MODERATION_H
#define IMGAPI_MODERATION_MODERATION_H
#include <stddef.h>

typedef struct moderation moderation_t;

typedef enum { MOD_LEVEL_AUTO = 0, MOD_LEVEL_LOW } mod_level_t;

typedef struct {
    int refused;
    char category[32]; /* e.g. "sexual_minors" when refused */
} mod_result_t;

/* Parses rules text (see moderation/rules.txt); IMG_EFORMAT with "line N: ..." in err. */
int mod_load(const char *text, moderation_t **out, char *err, size_t errlen);
/* The rules built into the binary. */
int mod_load_default(moderation_t **out, char *err, size_t errlen);
void mod_free(moderation_t *m);
int mod_version(const moderation_t *m);
/* Classifies a prompt at a level: auto refuses every category, low only those marked always. */
int mod_check(const moderation_t *m, const char *prompt, mod_level_t level, mod_result_t *out);
/* The normalised words of a text, space-separated (malloc'd); for tests and fuzzing. */
char *mod_normalize(const char *text);

#endif
