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
    int by_classifier; /* refused by the learned stage, not by a rule */
    char category[32]; /* e.g. "sexual_minors" when refused */
    /* the rule that refused, for explanations: "term w1 w2" or "combine GROUP=word + ..."
     * (rule words as normalised, cut to fit); empty when the classifier refused */
    char rule[128];
} mod_result_t;

/* Parses rules text (see moderation/rules.txt); IMG_EFORMAT with "line N: ..." in err. The
 * learned classifier built into the binary is attached as the second stage: a prompt the rules
 * allow is refused when the classifier's probability of a category passes that category's
 * threshold (at level low only for categories the rules mark always). */
int mod_load(const char *text, moderation_t **out, char *err, size_t errlen);
/* The rules built into the binary. */
int mod_load_default(moderation_t **out, char *err, size_t errlen);
void mod_free(moderation_t *m);
/* Turns the learned stage off (on = 0): rules only. */
void mod_use_classifier(moderation_t *m, int on);
int mod_version(const moderation_t *m);
/* Classifies a prompt at a level: auto refuses every category, low only those marked always. */
int mod_check(const moderation_t *m, const char *prompt, mod_level_t level, mod_result_t *out);
/* A request's negative prompt, as what it takes away from the prompt: the rules (not the
 * classifier, which would read an ordinary "nsfw, nude, child" list as its words) on the prompt
 * followed by the negative prompt read as negations, where only phrases that need the negation
 * count ("no clothes" beside a child is a sexual picture of the child). Refuses (out->refused)
 * only through such a phrase; an empty negative prompt refuses nothing. */
int mod_check_negative(const moderation_t *m, const char *prompt, const char *negative,
                       mod_level_t level, mod_result_t *out);
/* The learned stage's probability of each class (class 0 "ok") for a prompt: fills up to max
 * entries of probs and names (static strings) and returns how many, 0 without a classifier, or
 * a negative status. For `imgapi moderate --explain`. */
int mod_classifier_scores(const moderation_t *m, const char *prompt, float *probs,
                          const char **names, int max);
/* The normalised words of a text, space-separated, a word's second reading after a '|'
 * (malloc'd); for tests, fuzzing and the classifier's training script. */
char *mod_normalize(const char *text);
/* The words as the rules and the classifier read them (mod_normalize's, then glued compounds,
 * hashtags, swapped and masked letters read by this rule set's vocabulary), in mod_normalize's
 * format (malloc'd, NULL when out of memory): what the classifier's training must see. */
char *mod_read(const moderation_t *m, const char *text);

#endif
