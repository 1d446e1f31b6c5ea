/* stem.h - word stems for moderation (Snowball stemmers from libstemmer), so that a rule word
 * matches every inflection: "sexualize" also "sexualized", "sexualised", "sexualizing". A rule
 * is written in one language and its words are stemmed with that language's stemmer; a prompt's
 * word is stemmed with the rule's language when compared, so a Spanish rule never matches an
 * English word that merely shares a stem. */
#ifndef IMGAPI_MODERATION_STEM_H
#define IMGAPI_MODERATION_STEM_H
#include <stddef.h>

typedef enum {
    LANG_EN = 0,
    LANG_ES,
    LANG_FR,
    LANG_DE,
    LANG_PT,
    LANG_IT,
    LANG_RU,
    LANG_ZH, /* no stemmer: each ideograph is a word */
    /* languages the rules were not written for, with a few words of the never-allowed
     * category each (Snowball has no Polish, Ukrainian or Vietnamese: matched as written) */
    LANG_NL,
    LANG_SV,
    LANG_TR,
    LANG_ID,
    LANG_AR,
    LANG_HI,
    LANG_PL,
    LANG_UK,
    LANG_VI,
    LANG_COUNT
} mod_lang_t;

/* "en", "es", ... -> mod_lang_t, or -1. */
int stem_lang_parse(const char *code);

/* A set of stemmers for one thread (libstemmer's objects are not shared between threads). */
typedef struct stemmers stemmers_t;
int stemmers_open(stemmers_t **out);
void stemmers_close(stemmers_t *s);

/* The stem of a normalised word in a language into out (cap bytes), or 0 bytes (out = "") when
 * the language has no stemmer or the word is too short to stem safely (under 4 characters).
 * Returns the stem's length, or -1 on allocation failure. English British spellings are read as
 * American first (-ise, -ised, -ising, -isation -> -ize ...). */
int stem_word(stemmers_t *s, int lang, const char *word, char *out, size_t cap);

#endif
